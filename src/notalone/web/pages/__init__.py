"""The survivor's pages: HTML shells rendered once by Jinja2, and the static files.

The pages carry no user data: every page is the same for every visitor, rendered once
when the app is built, and its page script (js/src/pages/<name>.js, bundled to
/static/js/pages/<name>.js) fetches, decrypts and shows the survivor's data in the
browser. The server only decides whether a signed-in page may be shown at all (a valid
cookie session) and sends the page's security headers. docs/web.md describes each page.
"""

from notalone.web.pages.routes import PAGES, Page, pages_router
from notalone.web.pages.static import STATIC_DIR, STATIC_MEDIA_TYPES, PageStaticFiles, static_files

__all__ = [
    "PAGES",
    "STATIC_DIR",
    "STATIC_MEDIA_TYPES",
    "Page",
    "PageStaticFiles",
    "pages_router",
    "static_files",
]
