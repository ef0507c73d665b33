//! The extension's own pages, built with web-sys (no framework): `popup.html`, `pin.html`,
//! `options.html`. Each HTML file loads `ui.js`, which calls [`start_page`] with the page name
//! and the text catalogs (`crate::i18n`).

pub(crate) mod dom;
mod options;
pub(crate) mod pin;
mod popup;

use wasm_bindgen::prelude::*;

/// Entry point for the extension pages: `texts` is `{"ja": {…}, "en": {…}}` from
/// `catalog/*.json`, placeholders filled by `ui.js`.
#[wasm_bindgen(js_name = startPage)]
pub fn start_page(which: &str, texts: JsValue) {
    crate::i18n::install(crate::chrome::from_js(&texts));
    match which {
        "popup" => popup::start(),
        "pin" => pin::start(),
        "options" => options::start(),
        other => crate::chrome::log(&["kagi: unknown page ", other].concat()),
    }
}
