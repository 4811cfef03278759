"""Extra differential inputs for the identifier module: Python results for tricky inputs.

Run from the repository root: .venv/bin/python js/scripts/export-identifier-extra.py
(writes js/test/fixtures/identifier-extra.json, which test/identifiers.test.js checks).
"""
import json, sys
sys.path.insert(0,'src')
from notalone.protocol.identifiers import canonicalize
from notalone.errors import IdentifierError

cases=[]
emails=['a@b.co','Jane.Doe@Example.ORG','jane..doe@x.org','.jane@x.org','jane.@x.org','jane@x','jane@localhost','jane@foo.local','jane@[1.2.3.4]','"jane doe"@x.org',
 'jane@-x.org','jane@x-.org','jane@x..org','jane@.x.org','jane@x.org.','jane@x.org..','a+b@gmail.com','+b@gmail.com','a.b.c+d@googlemail.com','J.A.N.E@PM.ME','j_a-n.e@protonmail.ch',
 'ünïcode@exämple.org','用户@例子.广告','jane@xn--bcher-kva.example','jane@xn--zz.example','jane@x.123','jane@x.c0m','Jane <jane@x.org>','"Jane" <jane@x.org>','<jane@x.org>','jane@x.org>',
 'mailto:jane%40x.org','mailto:Jane@X.org?subject=hi','mailto:%ZZ@x.org','jane@x.org extra','jane @x.org','jane@x_y.org','ja\u200bne@x.org','jane@x.org\u200e','a'*65+'@x.org','a@'+'b'*64+'.org',
 'jane@ex\u00e4mple.org','jane!#$%&*@x.org','jane{x}@x.org','jane(comment)@x.org','jane@x.onion','jane@sub.x.test','jane@x.arpa','JANE@OUTLOOK.COM','jane.+x@outlook.com','jane@hotmail.co.uk',
 'jane@x.org\n','\u00a0jane@x.org\u3000','jane@x.org.', 'i̇stanbul@x.org','ß@x.org','jane@faß.de','jane@☃.net','jane@xn--n3h.net','jane@a.b.c.d.e.f','jane@1.2.3.4']
phones=['+1 415 555 0134','+1 (415) 555-0134','(+1) 415 555 0134','+1-415-555-0134 x12','+1 415 555 0134 #12','+1 415 555 0134;ext=12','+1 415 555 0134 extension 99','tel:+1-415-555-0134','tel:+14155550134;ext=1','tel:4155550134',
 'tel:+14155550134;foo=1','00 1 415 555 0134','0044 20 7946 0958','+44 (0) 20 7946 0958','+44 020 7946 0958','+39 06 1234 5678','+390612345678','+49 30 123456','+49 30 12345678','+86 138 0013 8000','+٩٧١ ٥٠ ١٢٣ ٤٥٦٧',
 '+33 1 23 45 67 89','+33 6 12 34 56 78','+1 415 555 0134 ext','+1 415 555 0134 x','++1 415','1+415','+','', '+1 415 555 0134/','+1 415 555 0134 ]','+81 3-1234-5678','+81 90 1234 5678','+7 495 123 45 67','+61 2 1234 5678',
 '+91 98765 43210','+55 11 91234 5678','+234 803 123 4567','+1 800 555 0199','+1 900 555 0199','+44 7700 900123','+353 1 234 5678','+31 6 12345678','+46 8 123 456 78','+358 40 1234567','+1 242 555 0134','+1 684 733 1234']
regions=[None,'US','GB','AU','DE','FR','IT','JP','IN','us',' gb ','UK','XX']
nat=['020 7946 0958','011 44 20 7946 0958','0011 44 20 7946 0958','(415) 555-0134','415 555 0134','0612345678','06 12 34 56 78','030 123456','0 30 12345678','090-1234-5678','98765 43210','02 1234 5678']
profiles=['https://www.linkedin.com/in/Jane-Doe/','linkedin.com/in/jäne-doe','https://uk.linkedin.com/in/jane','https://linkedin.com/in/ACoAAB1234','https://linkedin.com/pub/jane/1/2/3','https://de.linkedin.com/in/ab','linkedin:Jane_Doe',
 'x.com/jack','https://twitter.com/Jack/with_replies','https://x.com/jack/status/1','https://x.com/home','x:@jack','twitter:jack','https://mobile.twitter.com/jack','https://x.com:8080/jack','https://a@x.com/jack','ftp://x.com/jack',
 'instagram.com/some.user/','instagram.com/some.user.','instagr.am/p/abc','https://www.instagram.com/explore/','https://www.facebook.com/profile.php?id=0100','https://www.facebook.com/people/Jane-Doe/100004123456789/','facebook.com/1234.5678','fb.com/jane.doe.5',
 'facebook.com/jane.php','facebook:id:00123','https://m.facebook.com/groups/123','https://www.tiktok.com/@Some_User','tiktok.com/Some_User','vm.tiktok.com/abc','https://github.com/Octo-Cat','github.com/-octo','github.com/octo-','gist.github.com/octo',
 'github.com/settings','@Gargron@Mastodon.Social','gargron@mastodon.social','https://mastodon.social/@Gargron','https://mastodon.social/@Gargron/with_replies','https://mastodon.social/@Gargron/123','https://mastodon.social/@alice@other.example',
 'alice@gmail.com','alice@x.com','https://youtube.com/@jack','https://medium.com/@jack','jack','@jack','x.com/%6Aack','x.com/%E2%82','https://x.com/jack?lang=en#frag','https://x.com//jack//','https://X.COM/JACK','https://xn--80ak6aa92e.com/@user','https://пример.рф/@user','https://exa_mple.com/@user']
orgids=['Example.ORG:E-1042','www.example.org : E-1042','www.org:abc','example.org:','example.org','example.org:E 1042','example.org:550E8400-E29B-41D4-A716-446655440000','例子.广告:１２３','example:E1','ex ample.org:E1','example.org:a:b','xn--bcher-kva.example:Ä']
for e in emails: cases.append(('email',e,None))
for p in phones: cases.append(('phone',p,None))
for p in nat:
    for r in regions: cases.append(('phone',p,r))
for p in phones[:10]:
    cases.append(('phone',p,'GB'))
for p in profiles: cases.append(('profile',p,None))
for o in orgids: cases.append(('orgid',o,None))
out=[]
for k,v,r in cases:
    try: out.append({'kind':k,'input':v,'region':r,'canonical':canonicalize(k,v,region=r).canonical})
    except IdentifierError as e: out.append({'kind':k,'input':v,'region':r,'error':str(e)})
json.dump(out, open('js/test/fixtures/identifier-extra.json', 'w'), ensure_ascii=False, indent=1)
print(len(out))
