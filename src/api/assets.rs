//! The browser clients, compiled into the binary so that `cargo run` alone serves them: the
//! customer chat widget (`/widget.js` + `/widget.css`, embedded by a retailer's page with one
//! `<script>` tag), the agent console (`/console`), the snippet builder (`/snippet`) and a sample
//! retailer page (`/demo`). They speak only the public websocket protocol and REST API.
//!
//! Every asset goes out with its content type and `X-Content-Type-Options: nosniff`; the pages
//! carry a Content-Security-Policy that allows only this origin's scripts and styles (no inline
//! code), so a chat text that slipped into the DOM as markup still could not run.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpResponse};

/// The console: scripts, styles, REST and the websocket from this origin only; never framed.
/// Images may be `blob:` URLs: attachment thumbnails are fetched with the bearer token.
const CONSOLE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data: blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";
/// The snippet builder also frames the sample page for its live preview.
const SNIPPET_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; frame-src 'self'; base-uri 'none'; \
    form-action 'none'; frame-ancestors 'none'";
/// The sample retailer page stands for someone else's site: the widget may come from any
/// server it names, but the page may only be framed by this origin (the snippet preview).
const DEMO_CSP: &str = "default-src 'self'; script-src 'self' http: https:; \
    style-src 'self' http: https:; connect-src 'self' http: https: ws: wss:; \
    img-src 'self' data: blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'";

/// `/widget.js`: the shared chat core (`SwitchboardCore`: text rendering, socket, outbox), then
/// the widget, as one file for the retailer's single `<script>` tag, with no build step. Both go
/// inside one function, so that the core's name stays off the retailer's page: the widget's own
/// function gets the core as its argument.
const WIDGET_JS: &str = concat!(
    "(function () {\n",
    include_str!("../web/chatcore.js"),
    include_str!("../web/widget.js"),
    "})();\n"
);
/// `/console.js`: the same core, then the console, concatenated here too rather than served as a
/// separate `/chatcore.js` with its own script tag: one file, one request, and no global, since
/// the console is an ES module (`<script type="module">`) and the core's name is module-scoped.
const CONSOLE_JS: &str = concat!(
    include_str!("../web/chatcore.js"),
    include_str!("../web/console.js")
);

struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static str,
    csp: Option<&'static str>,
}

const ASSETS: &[Asset] = &[
    Asset {
        path: "/widget.js",
        content_type: "text/javascript; charset=utf-8",
        body: WIDGET_JS,
        csp: None,
    },
    Asset {
        path: "/widget.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../web/widget.css"),
        csp: None,
    },
    Asset {
        path: "/console",
        content_type: "text/html; charset=utf-8",
        body: include_str!("../web/console.html"),
        csp: Some(CONSOLE_CSP),
    },
    Asset {
        path: "/console.js",
        content_type: "text/javascript; charset=utf-8",
        body: CONSOLE_JS,
        csp: None,
    },
    Asset {
        path: "/console.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../web/console.css"),
        csp: None,
    },
    Asset {
        path: "/snippet",
        content_type: "text/html; charset=utf-8",
        body: include_str!("../web/snippet.html"),
        csp: Some(SNIPPET_CSP),
    },
    Asset {
        path: "/snippet.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../web/snippet.js"),
        csp: None,
    },
    Asset {
        path: "/demo",
        content_type: "text/html; charset=utf-8",
        body: include_str!("../web/demo.html"),
        csp: Some(DEMO_CSP),
    },
    Asset {
        path: "/demo.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../web/demo.js"),
        csp: None,
    },
    Asset {
        path: "/pages.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../web/pages.css"),
        csp: None,
    },
];

pub fn routes(cfg: &mut web::ServiceConfig) {
    for asset in ASSETS {
        cfg.route(asset.path, web::get().to(move || serve(asset)));
    }
    cfg.route(
        "/favicon.ico",
        web::get().to(|| async { HttpResponse::NoContent().finish() }),
    );
}

async fn serve(asset: &'static Asset) -> HttpResponse {
    let mut resp = HttpResponse::Ok();
    resp.insert_header((header::CONTENT_TYPE, asset.content_type))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        // Small files, changed with each release: revalidate rather than serve a stale client.
        .insert_header((header::CACHE_CONTROL, "no-cache"));
    if let Some(csp) = asset.csp {
        resp.insert_header((
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(csp),
        ))
        .insert_header((header::REFERRER_POLICY, "no-referrer"));
    }
    resp.body(asset.body)
}
