"""/static: the style sheet and the bundled page scripts, by an allow-list of file types.

Only the suffixes of STATIC_MEDIA_TYPES are served, each with an explicit media type (the
system's mimetypes table differs between machines, and a module script with the wrong
type is refused by the browser under `nosniff`); anything else in the directory, such as
a source map, answers 404. Starlette's StaticFiles already refuses paths that leave the
directory and does not follow symbolic links out of it.
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, Response
from starlette.staticfiles import NotModifiedResponse, StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

#: The only files served, by suffix.
STATIC_MEDIA_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".wasm": "application/wasm",
}


class PageStaticFiles(StaticFiles):
    """StaticFiles that serves only the allowed suffixes, each with its media type."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        """The file, or 404 when its suffix is not on the allow-list."""
        media_type = STATIC_MEDIA_TYPES.get(Path(full_path).suffix.lower())
        if media_type is None:
            raise HTTPException(status_code=404)
        response = FileResponse(
            full_path, status_code=status_code, stat_result=stat_result, media_type=media_type
        )
        if self.is_not_modified(response.headers, Headers(scope=scope)):
            return NotModifiedResponse(response.headers)
        return response


def static_files(directory: Path = STATIC_DIR) -> PageStaticFiles:
    """The /static application. The directory's js/ part is build output (js/build.mjs),
    so it may be missing on a machine that has not built the scripts: those paths 404."""
    return PageStaticFiles(directory=directory, check_dir=False)
