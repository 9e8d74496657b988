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
        // The document's words come from the phrase table, both languages.
        env.add_function("zh", |key: String| {
            onewindow_i18n::phrase(onewindow_i18n::Lang::Zh, &key).to_owned()
        });
        env.add_function("en", |key: String| {
            onewindow_i18n::phrase(onewindow_i18n::Lang::En, &key).to_owned()
        });
        if let Err(e) =
            env.add_template("document.html", include_str!("../templates/document.html"))
        {
            tracing::error!(error = %e, "the document template does not parse");
        }
        env
    })
}

/// A text as an SVG QR code.
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

/// Renders a document as a printable HTML page: its QR code holds `link`
/// (a stored document's verify link), and `seal` is printed beneath it so
/// that a document can be checked by typing its code. A document with a
/// rating link (`rate_url`) shows it as a second QR code.
pub fn render(doc: &Document, link: &str, seal: Option<&str>) -> Result<String, minijinja::Error> {
    let t = env().get_template("document.html")?;
    let rate = (!doc.rate_url.is_empty()).then(|| qr_svg(&doc.rate_url));
    t.render(context! {
        doc => doc,
        qr_svg => qr_svg(link),
        seal => seal,
        rate_qr_svg => rate,
    })
}

/// Renders a document as issued, from its record.
pub fn render_issued(d: &crate::service::documents::Issued) -> Result<String, minijinja::Error> {
    render(&d.document, &d.verify_url, Some(&d.seal))
}

/// The page of a case's document: the one issued at case version
/// `version`, or (`None`) the last answer to an acceptance decision; for a
/// case from before documents were records, the document as it would be
/// issued now, its QR code holding the case number.
pub async fn case_document(
    node: &crate::service::Node,
    number: &str,
    version: Option<u64>,
) -> Result<String, crate::service::error::Error> {
    let storage = |e: minijinja::Error| crate::service::error::Error::storage(&e);
    if let Some(v) = version {
        let d = node.issued_document(number, v).await?;
        return render_issued(&d).map_err(storage);
    }
    let issued = node.issued_documents(number).await?;
    if let Some(d) = issued
        .iter()
        .rev()
        .find(|d| d.document.kind.is_acceptance())
    {
        return render_issued(d).map_err(storage);
    }
    let row = node.store.case(number).await?.ok_or_else(|| {
        crate::service::error::Error::not_found("case_not_found", &[("number", &number)])
    })?;
    render(&node.document(&row), number, None).map_err(storage)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::{DocLine, DocumentKind};

    fn document(kind: DocumentKind) -> Document {
        let title = crate::service::kind_title(kind);
        Document {
            kind,
            title_zh: title.zh,
            title_en: title.en,
            case_number: "XPH-20261123-000001-7".into(),
            hall_zh: "夏平村党群服务中心".into(),
            hall_en: "Xiaping village service centre".into(),
            matter_code: "NH-MZ-001".into(),
            matter_zh: "居住证明".into(),
            matter_en: "Residence certificate".into(),
            applicant_name: "陈嘉欣".into(),
            applicant_id_masked: "440602********123X".into(),
            issued_on: "2026-11-23".into(),
            lines: vec![DocLine {
                zh: "缺少《户口簿》".into(),
                en: "Household register is missing".into(),
            }],
            committed_due: Some("2026-11-25".into()),
            statutory_due: Some("2026-11-30".into()),
            awaiting_transfer: true,
            notes: vec![],
            hall_address: "南海区桂城街道夏平村".into(),
            hall_phone: "0757-8600 0000".into(),
            hall_hours: "09:00-12:00,13:30-17:30".into(),
            verify_base: "http://127.0.0.1:8080".into(),
            rate_url: String::new(),
            intro: None,
        }
    }

    /// Every word of the printed documents comes from the phrase table in
    /// both languages: no key shows as itself, and the slots are filled.
    #[test]
    fn documents_take_their_words_from_the_phrase_table() {
        for kind in [
            DocumentKind::Receipt,
            DocumentKind::CorrectionNotice,
            DocumentKind::NonAcceptance,
            DocumentKind::Completion,
            DocumentKind::Revocation,
        ] {
            let mut doc = document(kind);
            let rated = matches!(kind, DocumentKind::Receipt | DocumentKind::Completion);
            if rated {
                doc.rate_url = "http://127.0.0.1:8080/rate?n=x&k=y".into();
            }
            let html = render(&doc, "http://127.0.0.1:8080/verify?d=x", Some("SEALTEXT"))
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(html.contains("SEALTEXT"), "the seal is printed on {kind:?}");
            assert_eq!(
                html.contains("id=\"rate-qr\""),
                rated,
                "the rating QR code on {kind:?}"
            );
            assert!(!html.contains("doc."), "a key shows as itself in {kind:?}");
            assert!(!html.contains("{committed}"), "{kind:?}");
            for label in [
                "案件编号",
                "Case No.",
                "扫码核验文书真伪",
                "承诺办结时限：2026-11-25",
                "地址：南海区桂城街道夏平村",
                "电话：0757-8600 0000",
                "办公时间：09:00-12:00，13:30-17:30",
            ] {
                assert!(html.contains(label), "{label} missing from {kind:?}");
            }
            let title = crate::service::kind_title(kind);
            assert!(html.contains(&title.zh) && html.contains(&title.en));
        }
        // A receipt with materials to follow does not say "complete".
        let receipt = render(&document(DocumentKind::Receipt), "x", None).unwrap_or_default();
        assert!(receipt.contains("予以容缺受理") && receipt.contains("is accepted"));
        assert!(!receipt.contains("您的申请材料齐全"));
        let mut complete = document(DocumentKind::Receipt);
        complete.lines.clear();
        let complete = render(&complete, "x", None).unwrap_or_default();
        assert!(complete.contains("您的申请材料齐全") && complete.contains("予以受理"));
        assert!(receipt.contains("等待转送上级办理"));
        let notice =
            render(&document(DocumentKind::CorrectionNotice), "x", None).unwrap_or_default();
        assert!(notice.contains("请补正以下全部内容"));
    }
}
