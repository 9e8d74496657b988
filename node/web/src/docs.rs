//! Printable pages of the standard documents (A4, with the case number as a
//! QR code), rendered from the same [`Document`] data the API returns.

use minijinja::{Environment, context};
use qrcode::QrCode;
use qrcode::render::svg;
use std::sync::OnceLock;

use crate::service::Document;

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        if let Err(e) =
            env.add_template("document.html", include_str!("../templates/document.html"))
        {
            tracing::error!(error = %e, "the document template does not parse");
        }
        env
    })
}

/// The case number as an SVG QR code.
pub fn qr_svg(text: &str) -> String {
    match QrCode::new(text.as_bytes()) {
        Ok(code) => code
            .render::<svg::Color<'_>>()
            .min_dimensions(120, 120)
            .quiet_zone(true)
            .build(),
        Err(_) => String::new(),
    }
}

/// Renders a document as a printable HTML page.
pub fn render(doc: &Document) -> Result<String, minijinja::Error> {
    let t = env().get_template("document.html")?;
    t.render(context! { doc => doc, qr_svg => qr_svg(&doc.case_number) })
}
