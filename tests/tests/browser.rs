//! The hall's pages in a real browser: headless Chromium through
//! chromedriver (WebDriver), against a real node in this process on port 0
//! with the starter catalogue. Each role logs in and clicks through one
//! case from queue number to rating; the supervisor sees it in the lists and
//! in the chart; the citizen follows it on a phone-sized window.
//!
//! Every page visited is saved as a PNG under `target/screenshots/`.
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (`scripts/test`
//! installs them).
#![allow(clippy::unwrap_used)]

use fantoccini::{Client, ClientBuilder, Locator};
use node::server::{self, RunningNode};
use node::service::StartedClock;
use onewindow_tests::{ADMIN_PASSWORD, STAFF_PASSWORD};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

const PERSON: &str = "11010519491231002X";
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const WAIT: Duration = Duration::from_secs(20);

/// chromedriver as a child process, killed when dropped.
struct Driver {
    child: Child,
    url: String,
    profiles: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Driver {
    async fn start() -> Driver {
        for bin in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                std::path::Path::new(bin).exists(),
                "{bin} is missing: run scripts/test, or apt-get install -y chromium chromium-driver"
            );
        }
        let port = free_port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            profiles: tempfile::tempdir().unwrap(),
        };
        let http = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let ready = http
                .get(format!("{}/status", driver.url))
                .send()
                .await
                .ok()
                .filter(|r| r.status().is_success());
            if ready.is_some() {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "chromedriver did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        driver
    }

    /// A fresh browser (its own profile) with a window of this size.
    async fn browser(&self, name: &str, width: u32, height: u32) -> Client {
        let profile = self.profiles.path().join(name);
        std::fs::create_dir_all(&profile).unwrap();
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--no-first-run", "--disable-quic",
                    format!("--user-data-dir={}", profile.display()),
                    format!("--window-size={width},{height}"),
                    "--lang=zh-CN",
                ]
            }
        });
        let Value::Object(caps) = caps else {
            unreachable!()
        };
        let c = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .unwrap();
        c.set_window_size(width, height).await.unwrap();
        c
    }
}

fn screenshot_dir() -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR").map_or_else(
        |_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    );
    let dir = target.join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Saves the whole page (the window grown to the page's height) as a PNG.
async fn shot(c: &Client, name: &str) {
    let (w, h) = c.get_window_size().await.unwrap();
    let dims = c
        .execute(
            "window.scrollTo(0, 0); return [document.documentElement.scrollHeight, window.innerHeight];",
            vec![],
        )
        .await
        .unwrap();
    let page = dims[0].as_u64().unwrap_or(0);
    let inner = dims[1].as_u64().unwrap_or(h);
    let grow = page.saturating_sub(inner).min(6000);
    if grow > 0 {
        c.set_window_size(w as u32, (h + grow) as u32)
            .await
            .unwrap();
    }
    let png = c.screenshot().await.unwrap();
    std::fs::write(screenshot_dir().join(format!("{name}.png")), png).unwrap();
    if grow > 0 {
        c.set_window_size(w as u32, h as u32).await.unwrap();
    }
}

async fn find(c: &Client, css: &str) -> fantoccini::elements::Element {
    c.wait()
        .at_most(WAIT)
        .every(Duration::from_millis(50))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css} did not appear: {e}"))
}

/// Waits until the element's text contains `text`.
async fn wait_text(c: &Client, css: &str, text: &str) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Ok(e) = c.find(Locator::Css(css)).await
            && let Ok(t) = e.text().await
            && t.contains(text)
        {
            return t;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{css} never said {text:?}; page: {}",
            c.current_url().await.unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Does `act` to the element at `css`, finding it again if the page
/// replaced it meanwhile (a page still settling after a navigation gives
/// `StaleElementReference` between the find and the act), until [`WAIT`].
async fn on_element(
    c: &Client,
    css: &str,
    what: &str,
    act: impl AsyncFn(&fantoccini::elements::Element) -> Result<(), fantoccini::error::CmdError>,
) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match act(&find(c, css).await).await {
            Ok(()) => return,
            Err(e) => assert!(
                tokio::time::Instant::now() < deadline,
                "could not {what} {css}: {e}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Clicks an element, finding it again if the page replaced it meanwhile.
async fn click(c: &Client, css: &str) {
    on_element(c, css, "click", async |e| e.click().await).await;
}

/// Types `text` into a field, after clearing it; finds the field again if
/// the page replaced it meanwhile.
async fn fill(c: &Client, css: &str, text: &str) {
    on_element(c, css, "fill", async |e| {
        e.clear().await?;
        e.send_keys(text).await
    })
    .await;
}

async fn login(c: &Client, base: &str, user: &str) {
    c.goto(&format!("{base}/login")).await.unwrap();
    fill(c, "#username", user).await;
    fill(c, "#password", STAFF_PASSWORD).await;
    click(c, "#login-submit").await;
    wait_text(c, ".tools .who", &format!("{user} 测试")).await;
}

async fn logout(c: &Client) {
    click(c, ".tools button.link").await;
    find(c, "#username").await;
}

/// The total of today's column in the volume chart.
async fn todays_volume(c: &Client, base: &str, today: &str) -> i64 {
    c.goto(&format!("{base}/supervisor/stats")).await.unwrap();
    let col = find(c, &format!("#chart-volume g.col[data-label=\"{today}\"]")).await;
    col.attr("data-value")
        .await
        .unwrap()
        .unwrap()
        .parse()
        .unwrap()
}

struct Hall {
    node: RunningNode,
    base: String,
    _dir: tempfile::TempDir,
}

/// A district node on the starter catalogue with a clerk, three approvers
/// of the public security bureau (`gongan`) and a supervisor. It is the
/// root: it holds the root's signing key, so its documents' seals check
/// against the root's public key.
async fn hall() -> Hall {
    hall_on(Arc::new(StartedClock::at(onewindow_tests::START_MS))).await
}

/// [`hall`] on a clock the test moves.
async fn hall_on(clock: Arc<StartedClock>) -> Hall {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("node.db").display());
    let mut c = onewindow_tests::hall_config("nanhai", &db, dir.path());
    let (private, public) = node::link::signing::generate().unwrap();
    let key_file = dir.path().join("root-signing.key");
    std::fs::write(&key_file, private).unwrap();
    c.federation.signing_key_file = key_file.display().to_string();
    c.federation.root_public_key = public;
    let node = server::start_with_clock(c, clock).await.unwrap();
    let base = node.url();
    let api = reqwest::Client::new();
    let r: Value = api
        .post(format!("{base}/api/v1/session"))
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = r["token"].as_str().unwrap().to_owned();
    for (user, role, dept) in [
        ("clerk1", "clerk", None),
        ("ga.one", "approver", Some("gongan")),
        ("ga.two", "approver", Some("gongan")),
        ("ga.three", "approver", Some("gongan")),
        ("sup1", "supervisor", None),
    ] {
        let mut body = json!({"username": user, "display_name": format!("{user} 测试"), "role": role, "password": STAFF_PASSWORD});
        if let Some(d) = dept {
            body["department"] = json!(d);
        }
        let r = api
            .post(format!("{base}/api/v1/staff"))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }
    Hall {
        node,
        base,
        _dir: dir,
    }
}

/// Fills the applicant on the checklist form of NH-GA-005 (居民身份证申领).
async fn fill_applicant(c: &Client) {
    fill(c, "#id_number", PERSON).await;
    fill(c, "#name", "张三").await;
    fill(c, "#phone", "13800000000").await;
}

async fn walk_through(driver: &Driver, h: &Hall) {
    let base = &h.base;
    let today = h.node.node.today().format("%Y-%m-%d").to_string();
    let c = driver.browser("desk", 1280, 900).await;

    // The supervisor's chart before.
    login(&c, base, "sup1").await;
    let before = todays_volume(&c, base, &today).await;
    logout(&c).await;
    shot(&c, "login").await;

    // A citizen takes a number at the kiosk.
    c.goto(&format!("{base}/kiosk")).await.unwrap();
    shot(&c, "kiosk").await;
    click(&c, "#kiosk-take").await;
    wait_text(&c, "#ticket-number", "A001").await;
    shot(&c, "kiosk-number").await;
    // The ticket can be printed, and the kiosk goes back to its start
    // screen, in Chinese, for the next person.
    find(&c, "#kiosk-print").await;
    let reset = find(&c, "#kiosk-reset").await;
    assert_eq!(
        reset.attr("content").await.unwrap().as_deref(),
        Some("20;url=/lang/zh?next=/kiosk")
    );
    assert_eq!(
        find(&c, "#kiosk-done")
            .await
            .attr("href")
            .await
            .unwrap()
            .as_deref(),
        Some("/lang/zh?next=/kiosk")
    );

    // The clerk calls it with the keyboard (F2).
    login(&c, base, "clerk1").await;
    assert!(c.current_url().await.unwrap().path().ends_with("/clerk"));
    find(&c, "#matter-q")
        .await
        .send_keys("\u{E032}")
        .await
        .unwrap();
    wait_text(&c, ".flash.ok", "A001").await;
    shot(&c, "clerk-home").await;

    // Finds 居民身份证申领 by its pinyin initials, as the clerk types.
    fill(&c, "#matter-q", "sfz").await;
    let hit = "#matter-results a[href=\"/clerk/apply/NH-GA-005\"]";
    find(&c, hit).await;
    shot(&c, "clerk-search").await;
    // Words of the name with others skipped between them.
    fill(&c, "#matter-q", "无犯罪证明").await;
    find(&c, "#matter-results a[href=\"/clerk/apply/NH-GA-012\"]").await;
    // A matter received only in villages: found by skipped words, and the
    // clerk is told where it is received, with its guide.
    fill(&c, "#matter-q", "jzzm").await;
    let elsewhere = "#matter-results li.elsewhere a[href=\"/guide/NH-CJ-001\"]";
    find(&c, elsewhere).await;
    wait_text(
        &c,
        "#matter-results li.elsewhere",
        "本厅不受理，请到村（居）便民服务站办理",
    )
    .await;
    assert!(
        c.find(Locator::Css(
            "#matter-results a[href=\"/clerk/apply/NH-CJ-001\"]"
        ))
        .await
        .is_err()
    );
    // A common word the catalogue lists, in characters and in initials.
    fill(&c, "#matter-q", "低保").await;
    find(
        &c,
        "#matter-results li.elsewhere a[href=\"/guide/NH-MZ-001\"]",
    )
    .await;
    wait_text(&c, "#matter-results li.elsewhere", "镇（街道）便民服务中心").await;
    shot(&c, "clerk-search-elsewhere").await;
    // Words of the name, typed as people say them.
    fill(&c, "#matter-q", "居住证明").await;
    find(&c, elsewhere).await;
    fill(&c, "#matter-q", "db").await;
    find(
        &c,
        "#matter-results li.elsewhere a[href=\"/guide/NH-MZ-001\"]",
    )
    .await;
    // Without script, the same answers; in English as well.
    c.goto(&format!("{base}/clerk?q=jzzm")).await.unwrap();
    wait_text(&c, "#matter-results li.elsewhere", "NH-CJ-001").await;
    c.goto(&format!("{base}/lang/en?next=/clerk?q=db"))
        .await
        .unwrap();
    wait_text(
        &c,
        "#matter-results li.elsewhere",
        "Not received at this hall; apply at a township hall, a village hall",
    )
    .await;
    shot(&c, "clerk-search-elsewhere-en").await;
    c.goto(&format!("{base}/lang/zh?next=/clerk"))
        .await
        .unwrap();
    c.goto(&format!("{base}/clerk")).await.unwrap();
    fill(&c, "#matter-q", "sfz").await;
    click(&c, hit).await;
    find(&c, "#apply-form").await;
    // The ID field has the focus: the clerk types at once.
    let active = c.active_element().await.unwrap();
    assert_eq!(
        active.attr("id").await.unwrap().as_deref(),
        Some("id_number")
    );

    // The guardian's ID shows only for the "minor" situation.
    let guardian = find(&c, "tr[data-material=\"M03\"]").await;
    assert!(!guardian.is_displayed().await.unwrap());
    click(&c, "#sit-minor").await;
    assert!(guardian.is_displayed().await.unwrap());
    click(&c, "#sit-minor").await;
    assert!(!guardian.is_displayed().await.unwrap());

    // An ID number with a wrong check character: told next to the field,
    // in the page's language, and nothing is made.
    for (lang, words, name) in [
        ("zh", "校验位", "clerk-apply-field-error"),
        ("en", "check character", "clerk-apply-field-error-en"),
    ] {
        c.goto(&format!("{base}/lang/{lang}?next=/clerk/apply/NH-GA-005"))
            .await
            .unwrap();
        fill_applicant(&c).await;
        fill(&c, "#id_number", "110105194912310021").await;
        click(&c, "#have_M01").await;
        click(&c, "#submit-apply").await;
        wait_text(&c, "#id_number-error", words).await;
        assert_eq!(
            find(&c, "#id_number")
                .await
                .attr("aria-invalid")
                .await
                .unwrap()
                .as_deref(),
            Some("true")
        );
        shot(&c, name).await;
    }
    c.goto(&format!("{base}/lang/zh?next=/clerk/apply/NH-GA-005"))
        .await
        .unwrap();
    find(&c, "#apply-form").await;

    // First applicant: the application form (M04) is missing.
    fill_applicant(&c).await;
    click(&c, "#have_M01").await;
    click(&c, "#elec_M02").await;
    shot(&c, "clerk-apply").await;
    click(&c, "#submit-apply").await;
    let first = wait_text(&c, "#case-number", "NH").await;
    wait_text(&c, "#issues", "居民身份证申领登记表").await;
    shot(&c, "clerk-correction").await;
    c.goto(&format!("{base}/cases/{first}/document"))
        .await
        .unwrap();
    wait_text(&c, "body", "材料补正通知书").await;
    wait_text(&c, "ol", "居民身份证申领登记表").await;
    shot(&c, "document-correction").await;

    // Second applicant: complete, submitted with Ctrl+Enter.
    c.goto(&format!("{base}/clerk/apply/NH-GA-005"))
        .await
        .unwrap();
    fill_applicant(&c).await;
    click(&c, "#have_M01").await;
    click(&c, "#elec_M02").await;
    click(&c, "#have_M04").await;
    find(&c, "#phone")
        .await
        .send_keys("\u{E009}\u{E007}\u{E000}")
        .await
        .unwrap();
    let second = wait_text(&c, "#case-number", "NH").await;
    assert_ne!(first, second);
    c.goto(&format!("{base}/cases/{second}/document"))
        .await
        .unwrap();
    wait_text(&c, "body", "受理回执").await;
    find(&c, ".qr svg").await;
    shot(&c, "document-receipt").await;
    c.goto(&format!("{base}/clerk/cases/{second}"))
        .await
        .unwrap();
    find(&c, "#doc-frame").await;
    shot(&c, "clerk-case-receipt").await;
    logout(&c).await;

    // The back office of gongan: handling, review and approval by three
    // different people.
    login(&c, base, "ga.one").await;
    // The queue names the applicant and the hall that accepted the case.
    let queued = wait_text(
        &c,
        &format!("#work-queue tr[data-case=\"{second}\"]"),
        "张三",
    )
    .await;
    assert!(queued.contains("nanhai 服务中心"), "{queued}");
    shot(&c, "approver-queue").await;
    click(
        &c,
        &format!("#work-queue a[href=\"/approver/cases/{second}\"]"),
    )
    .await;
    // The case file: the applicant with the ID number masked, the
    // materials as presented, the receipt; no opinion written for them.
    wait_text(&c, "#applicant", "张三").await;
    let applicant = find(&c, "#applicant").await.text().await.unwrap();
    assert!(
        applicant.contains("110105") && !applicant.contains(PERSON),
        "{applicant}"
    );
    wait_text(&c, "#materials tr[data-material=\"M01\"]", "已收取").await;
    wait_text(&c, "#materials tr[data-material=\"M02\"]", "电子证照").await;
    find(&c, "#document-link").await;
    click(&c, "#act-start_handling").await;
    wait_text(&c, ".flash.ok", "已开始承办").await;
    let opinion = find(&c, "#op-h").await;
    assert_eq!(opinion.prop("value").await.unwrap().as_deref(), Some(""));
    fill(&c, "#op-h", "材料齐全，拟同意。").await;
    click(&c, "#act-submit_for_review").await;
    wait_text(&c, ".flash.ok", "已提交审核").await;
    shot(&c, "approver-case").await;
    c.goto(&format!("{base}/lang/en?next=/approver/cases/{second}"))
        .await
        .unwrap();
    wait_text(&c, "#materials", "Electronic licence or shared data").await;
    shot(&c, "approver-case-en").await;
    // The handler is offered no review, and is told why, in both
    // languages.
    wait_text(
        &c,
        "#review-refusal",
        "You handled this case; someone else must review it.",
    )
    .await;
    assert!(c.find(Locator::Css("#act-pass_review")).await.is_err());
    shot(&c, "approver-own-handling-en").await;
    c.goto(&format!("{base}/lang/zh?next=/approver/cases/{second}"))
        .await
        .unwrap();
    wait_text(&c, "#review-refusal", "您承办了本案件，须由其他人员审核。").await;
    assert!(c.find(Locator::Css("#act-pass_review")).await.is_err());
    shot(&c, "approver-own-handling").await;
    // A review posted anyway (the page's form, its action changed) is
    // refused, and the case stays in review.
    c.execute(
        "const f = document.querySelector('form.act');
         f.querySelector('input[name=action]').value = 'pass_review';
         const o = document.createElement('input');
         o.name = 'opinion'; o.value = '同意。'; f.appendChild(o);
         f.submit();",
        vec![],
    )
    .await
    .unwrap();
    wait_text(&c, "#page-error", "您承办了本案件，须由其他人员审核").await;
    find(&c, "#review-refusal").await;
    logout(&c).await;
    login(&c, base, "ga.two").await;
    c.goto(&format!("{base}/approver/cases/{second}"))
        .await
        .unwrap();
    fill(&c, "#op-r", "符合法定条件。").await;
    click(&c, "#act-pass_review").await;
    wait_text(&c, ".flash.ok", "审核通过").await;
    // The reviewer is told someone else must decide, and is offered no
    // decision form.
    wait_text(&c, "#decide-refusal", "须由其他人员作出决定").await;
    assert!(c.find(Locator::Css("#act-decide")).await.is_err());
    logout(&c).await;
    // Nor is the handler.
    login(&c, base, "ga.one").await;
    c.goto(&format!("{base}/approver/cases/{second}"))
        .await
        .unwrap();
    wait_text(&c, "#decide-refusal", "第三人作出决定").await;
    assert!(c.find(Locator::Css("#act-decide")).await.is_err());
    logout(&c).await;
    login(&c, base, "ga.three").await;
    c.goto(&format!("{base}/approver/cases/{second}"))
        .await
        .unwrap();
    fill(&c, "#op-d", "准予办理。").await;
    click(&c, "#act-decide").await;
    // Confirmed before it is made.
    wait_text(&c, "#confirm-decide", "不能撤销").await;
    shot(&c, "approver-confirm").await;
    click(&c, "#act-decide-confirm").await;
    wait_text(&c, ".flash.ok", "已作出准予决定").await;
    fill(&c, "#res", "居民身份证 已制证").await;
    click(&c, "#act-result_ready").await;
    wait_text(&c, ".flash.ok", "办理结果已送受理窗口").await;
    shot(&c, "approver-decided").await;
    // The result is a document of its own, issued by the deciding hall.
    c.goto(&format!("{base}/approver/cases/{second}"))
        .await
        .unwrap();
    let links = c
        .find_all(Locator::Css(&format!(
            "a[href^=\"/cases/{second}/documents/\"]"
        )))
        .await
        .unwrap();
    let last = links.last().expect("the case lists its documents");
    let href = last.attr("href").await.unwrap().unwrap();
    c.goto(&format!("{base}{href}")).await.unwrap();
    wait_text(&c, "body", "准予办理决定书").await;
    wait_text(&c, "body", "居民身份证 已制证").await;
    find(&c, "#seal").await;
    shot(&c, "document-result").await;
    c.goto(&format!("{base}/approver")).await.unwrap();
    logout(&c).await;

    // The window hands the result out; the applicant rates on the tablet.
    login(&c, base, "clerk1").await;
    click(
        &c,
        &format!("#ready-list a[href=\"/clerk/cases/{second}\"]"),
    )
    .await;
    // Collected by a proxy: in English first, the authorisation not yet
    // ticked and the number mistyped, each said next to its field.
    c.goto(&format!("{base}/lang/en?next=/clerk/cases/{second}"))
        .await
        .unwrap();
    click(&c, "#by-proxy").await;
    fill(&c, "#proxy_name", "李四").await;
    fill(&c, "#proxy_id", "110105198001010011").await;
    fill(&c, "#reference", "委托书 2026-17").await;
    click(&c, "#hand-out").await;
    wait_text(&c, "#authorisation-error", "written authorisation").await;
    wait_text(&c, "#proxy_id-error", "check character").await;
    shot(&c, "clerk-handout-errors-en").await;
    fill(&c, "#proxy_id", "110105198001010016").await;
    click(&c, "#authorisation").await;
    click(&c, "#hand-out").await;
    wait_text(&c, "#confirm-how", "Collected by proxy 李四").await;
    shot(&c, "clerk-handout-proxy-en").await;
    // The same in Chinese, then confirmed.
    c.goto(&format!("{base}/lang/zh?next=/clerk/cases/{second}"))
        .await
        .unwrap();
    click(&c, "#by-proxy").await;
    fill(&c, "#proxy_name", "李四").await;
    fill(&c, "#proxy_id", "110105198001010016").await;
    click(&c, "#authorisation").await;
    fill(&c, "#reference", "委托书 2026-17").await;
    click(&c, "#hand-out").await;
    wait_text(&c, "#confirm-recipient", "李四").await;
    wait_text(&c, "#confirm-how", "由李四代领").await;
    shot(&c, "clerk-handout-proxy").await;
    click(&c, "#hand-out-confirm").await;
    wait_text(&c, ".flash.ok", "办理结果已发放").await;
    wait_text(&c, "#collected", "已出示授权委托书（委托书 2026-17）").await;
    shot(&c, "clerk-case-collected").await;
    click(&c, "#rate-link").await;
    find(&c, "#score-1").await;
    shot(&c, "tablet-rate").await;
    click(&c, "#score-1").await;
    wait_text(&c, "#rate-thanks", "感谢").await;
    shot(&c, "tablet-thanks").await;
    // The tablet shows no staff controls; the clerk goes back to the window.
    click(&c, ".rate a.button").await;
    find(&c, "#case-number").await;
    logout(&c).await;

    // The supervisor sees both cases and today's column grew by two.
    login(&c, base, "sup1").await;
    shot(&c, "supervisor-overview").await;
    let after = todays_volume(&c, base, &today).await;
    assert_eq!(after, before + 2);
    shot(&c, "supervisor-stats").await;
    c.goto(&format!("{base}/supervisor/search?last4=002X"))
        .await
        .unwrap();
    wait_text(&c, "#table-search", &second).await;
    wait_text(&c, "#table-search", &first).await;
    shot(&c, "supervisor-search").await;
    c.goto(&format!("{base}/supervisor/cases/{second}"))
        .await
        .unwrap();
    wait_text(&c, "#trace", "评价").await;
    shot(&c, "supervisor-case").await;
    c.goto(&format!("{base}/supervisor/fleet")).await.unwrap();
    wait_text(&c, "#table-fleet", "nanhai").await;
    shot(&c, "supervisor-fleet").await;
    // In English.
    c.goto(&format!("{base}/supervisor/stats")).await.unwrap();
    click(&c, "a[hreflang=\"en\"]").await;
    wait_text(&c, "h1", "Statistics").await;
    shot(&c, "supervisor-stats-en").await;
    click(&c, "a[hreflang=\"zh-CN\"]").await;
    wait_text(&c, "h1", "统计分析").await;
    logout(&c).await;
    c.close().await.unwrap();

    // The citizen, on a phone.
    let phone = driver.browser("phone", 390, 844).await;
    phone.goto(&format!("{base}/progress")).await.unwrap();
    fill(&phone, "#p-number", &second).await;
    fill(&phone, "#p-last4", "002x").await;
    click(&phone, "#progress-submit").await;
    wait_text(&phone, "#progress-answer", "已办结").await;
    let overflow = phone
        .execute(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        overflow.as_i64(),
        Some(0),
        "no sideways scrolling on a phone"
    );
    shot(&phone, "citizen-progress-phone").await;
    fill(&phone, "#p-number", &first).await;
    fill(&phone, "#p-last4", "1234").await;
    click(&phone, "#progress-submit").await;
    wait_text(&phone, ".flash.error", "未找到案件").await;
    shot(&phone, "citizen-progress-wrong-phone").await;
    phone
        .goto(&format!("{base}/guide/NH-GA-005"))
        .await
        .unwrap();
    wait_text(&phone, "#guide-materials", "居民身份证申领登记表").await;
    shot(&phone, "citizen-guide-phone").await;
    phone.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_clicks_through_one_case_in_a_real_browser() {
    let driver = Driver::start().await;
    let h = hall().await;
    tokio::time::timeout(Duration::from_secs(300), walk_through(&driver, &h))
        .await
        .expect("the walk-through finished in time");
    h.node.stop().await;
    drop(driver);
}

/// A citizen's phone opens the link in a document's QR code: the hall says
/// the document is authentic, and so does the check in the browser with
/// the root's key alone; a seal with one character changed is refused by
/// both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_verifies_by_its_qr_link_and_an_altered_one_is_refused() {
    let driver = Driver::start().await;
    let h = hall().await;
    let base = &h.base;
    let clerk = onewindow_tests::Api::login(base, "clerk1", STAFF_PASSWORD).await;
    let cat = clerk.get_ok("/api/v1/catalogue").await;
    let matter = cat["matters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["code"] == "NH-GA-005")
        .unwrap()
        .clone();
    let r = clerk
        .post_ok(
            "/api/v1/cases",
            &onewindow_tests::complete_submission(&matter, PERSON),
        )
        .await;
    let n = r["case_number"].as_str().unwrap().to_owned();
    let docs = clerk.get_ok(&format!("/api/v1/cases/{n}/documents")).await;
    let receipt = &docs[0];
    let link = receipt["verify_url"].as_str().unwrap().to_owned();
    assert!(link.starts_with(&format!("{base}/verify?d=")), "{link}");
    let seal = receipt["seal"].as_str().unwrap().to_owned();

    let phone = driver.browser("verify", 390, 844).await;
    phone.goto(&link).await.unwrap();
    let verdict = find(&phone, "#verdict").await;
    assert_eq!(
        verdict.attr("data-verdict").await.unwrap().as_deref(),
        Some("authentic")
    );
    wait_text(&phone, "#verdict", "文书真实").await;
    wait_text(&phone, "#verify-details", &n).await;
    wait_text(&phone, "#verify-details", "李*").await;
    let offline = find(&phone, "#offline-check[data-result]").await;
    assert_eq!(
        offline.attr("data-result").await.unwrap().as_deref(),
        Some("ok"),
        "the browser's own check of the seal"
    );
    shot(&phone, "verify").await;
    phone
        .goto(&format!("{base}/lang/en?next=/verify?d={seal}"))
        .await
        .unwrap();
    wait_text(&phone, "#verdict", "Authentic").await;
    find(&phone, "#offline-check[data-result=\"ok\"]").await;
    shot(&phone, "verify-en").await;

    // One character of the seal changed.
    let mut chars: Vec<char> = seal.chars().collect();
    let i = chars.len() - 10;
    chars[i] = if chars[i] == 'Q' { 'R' } else { 'Q' };
    let altered: String = chars.into_iter().collect();
    phone
        .goto(&format!("{base}/lang/zh?next=/verify?d={altered}"))
        .await
        .unwrap();
    let verdict = find(&phone, "#verdict").await;
    assert_eq!(
        verdict.attr("data-verdict").await.unwrap().as_deref(),
        Some("altered")
    );
    wait_text(&phone, "#verdict", "已被篡改或伪造").await;
    let offline = find(&phone, "#offline-check[data-result]").await;
    assert_eq!(
        offline.attr("data-result").await.unwrap().as_deref(),
        Some("bad")
    );
    shot(&phone, "verify-altered").await;
    phone.close().await.unwrap();
    h.node.stop().await;
    drop(driver);
}

/// Books the 14:00 slot of the test day for 居民身份证申领 on the booking
/// page, as a phone would; the code.
async fn book_on_the_page(c: &Client, base: &str, who: &str, id: &str, shot_name: &str) -> String {
    c.goto(&format!("{base}/book")).await.unwrap();
    find(c, "#b-matter")
        .await
        .select_by_value("NH-GA-005")
        .await
        .unwrap();
    // The day is today's unless another is chosen.
    let day = find(c, "#b-date").await.prop("value").await.unwrap();
    assert_eq!(day.as_deref(), Some("2026-11-23"));
    click(c, "#book-show").await;
    find(c, "#book-slots").await;
    // Slots that started (it is 10:00) cannot be chosen.
    assert!(!find(c, "#slot-0930").await.is_enabled().await.unwrap());
    click(c, "#slot-1400").await;
    fill(c, "#b-name", who).await;
    fill(c, "#b-id", id).await;
    fill(c, "#b-phone", "13800000000").await;
    shot(c, shot_name).await;
    click(c, "#book-submit").await;
    let code = find(c, "#booking-code").await.text().await.unwrap();
    wait_text(c, "#booking-slot", "2026-11-23 14:00–14:30").await;
    code.trim().to_owned()
}

async fn booked_before_walk_ins(driver: &Driver, h: &Hall, clock: &StartedClock) {
    let base = &h.base;
    let other = onewindow_tests::citizen_id("44060519800101002");
    let absent = onewindow_tests::citizen_id("44060519800101003");

    // Two citizens book the 14:00 slot on their phones, in Chinese and in
    // English.
    let phone = driver.browser("booking-phone", 390, 844).await;
    let code = book_on_the_page(&phone, base, "张三", PERSON, "booking").await;
    shot(&phone, "booking-done").await;
    let overflow = phone
        .execute(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        overflow.as_i64(),
        Some(0),
        "no sideways scrolling on a phone"
    );
    phone
        .goto(&format!("{base}/lang/en?next=/book"))
        .await
        .unwrap();
    let code_en = book_on_the_page(&phone, base, "Li Si", &other, "booking-en").await;
    wait_text(&phone, "#booking-done", "Keep the code").await;
    shot(&phone, "booking-done-en").await;
    phone.close().await.unwrap();
    // A third books the 10:30 slot and does not come.
    let node = &h.node.node;
    let missed = node
        .book(&node::service::BookingRequest {
            matter: "NH-GA-005".into(),
            date: "2026-11-23".into(),
            start: "10:30".into(),
            name: "王五".into(),
            id_number: absent,
            phone: "13900000000".into(),
        })
        .await
        .unwrap();

    // At 10:00 a walk-in takes a number; the booked citizen is too early.
    let kiosk = driver.browser("kiosk", 1024, 900).await;
    kiosk.goto(&format!("{base}/kiosk")).await.unwrap();
    click(&kiosk, "#kiosk-take").await;
    wait_text(&kiosk, "#ticket-number", "A001").await;
    kiosk.goto(&format!("{base}/kiosk")).await.unwrap();
    fill(&kiosk, "#k-booking", &code).await;
    click(&kiosk, "#kiosk-take-booked").await;
    wait_text(&kiosk, "#page-error", "2026-11-23 14:00–14:30").await;
    wait_text(&kiosk, "#page-error", "13:45").await;
    shot(&kiosk, "kiosk-booking-early").await;
    // A code that is no booking is refused, in the kiosk's language.
    fill(&kiosk, "#k-booking", "ABCDEFGH").await;
    click(&kiosk, "#kiosk-take-booked").await;
    wait_text(&kiosk, "#page-error", "没有这个预约码").await;

    // At 13:50 both check in within their slot and get booked numbers.
    clock.advance(230 * 60_000);
    kiosk.goto(&format!("{base}/kiosk")).await.unwrap();
    fill(&kiosk, "#k-booking", &code.to_lowercase()).await;
    click(&kiosk, "#kiosk-take-booked").await;
    wait_text(&kiosk, "#ticket-number", "B001").await;
    wait_text(&kiosk, "#ticket-booked", &code).await;
    wait_text(&kiosk, "#ticket-ahead", "0").await;
    shot(&kiosk, "kiosk-booking").await;
    kiosk
        .goto(&format!("{base}/lang/en?next=/kiosk"))
        .await
        .unwrap();
    fill(&kiosk, "#k-booking", &code).await;
    click(&kiosk, "#kiosk-take-booked").await;
    wait_text(
        &kiosk,
        "#page-error",
        "A number was taken with this booking code already",
    )
    .await;
    fill(&kiosk, "#k-booking", &code_en).await;
    click(&kiosk, "#kiosk-take-booked").await;
    wait_text(&kiosk, "#ticket-number", "B002").await;
    wait_text(&kiosk, "#ticket-booked", "Booked visit").await;
    wait_text(&kiosk, "#ticket-ahead", "1").await;
    shot(&kiosk, "kiosk-booking-en").await;

    // The 10:30 booking ended without its visitor: a no-show (the sweep
    // may have run already), no number.
    node.sweep_bookings().await.unwrap();
    let stored = node.bookings_of_day("2026-11-23").await.unwrap();
    let absent_row = stored.iter().find(|b| b.code == missed.code).unwrap();
    assert_eq!(
        (absent_row.status.as_str(), absent_row.ticket_id),
        ("no_show", None)
    );
    let numbers: Vec<_> = node
        .tickets_today()
        .await
        .unwrap()
        .into_iter()
        .map(|t| (t.number, t.appointment))
        .collect();
    assert_eq!(
        numbers,
        [
            ("A001".to_owned(), None),
            ("B001".to_owned(), Some(code.clone())),
            ("B002".to_owned(), Some(code_en.clone()))
        ]
    );

    // The window calls the booked citizens before the earlier walk-in.
    login(&kiosk, base, "clerk1").await;
    for number in ["B001", "B002", "A001"] {
        fill(&kiosk, "#window", "1").await;
        click(&kiosk, "#call-next").await;
        wait_text(&kiosk, ".flash.ok", number).await;
        click(&kiosk, &format!("#served-{number}")).await;
        wait_text(&kiosk, ".flash.ok", number).await;
    }
    fill(&kiosk, "#window", "1").await;
    click(&kiosk, "#call-next").await;
    wait_text(&kiosk, ".flash.ok", "Nobody").await;
    logout(&kiosk).await;

    // Shown after its slot, the absent citizen's code gives a walk-in's
    // number, and the kiosk says so.
    kiosk.goto(&format!("{base}/kiosk")).await.unwrap();
    fill(&kiosk, "#k-booking", &missed.code).await;
    click(&kiosk, "#kiosk-take-booked").await;
    wait_text(&kiosk, "#ticket-number", "A002").await;
    wait_text(&kiosk, "#ticket-late", "10:30–11:00").await;
    shot(&kiosk, "kiosk-booking-late-en").await;
    kiosk.close().await.unwrap();

    // A citizen cancels a later booking on the phone with its code and
    // the last four characters of the ID number; a second time is refused.
    let fourth = onewindow_tests::citizen_id("44060519800101004");
    let later = node
        .book(&node::service::BookingRequest {
            matter: "NH-GA-005".into(),
            date: "2026-11-23".into(),
            start: "16:00".into(),
            name: "赵六".into(),
            id_number: fourth.clone(),
            phone: "13700000000".into(),
        })
        .await
        .unwrap();
    let phone = driver.browser("booking-cancel", 390, 844).await;
    phone
        .goto(&format!("{base}/lang/zh?next=/book"))
        .await
        .unwrap();
    fill(&phone, "#c-code", &later.code.to_lowercase()).await;
    fill(&phone, "#c-last4", &fourth[14..]).await;
    click(&phone, "#book-cancel-submit").await;
    wait_text(&phone, "#book-cancelled", "已取消预约").await;
    wait_text(&phone, "#book-cancelled", &later.code).await;
    shot(&phone, "booking-cancelled").await;
    phone
        .goto(&format!("{base}/lang/en?next=/book"))
        .await
        .unwrap();
    fill(&phone, "#c-code", &later.code).await;
    fill(&phone, "#c-last4", &fourth[14..]).await;
    click(&phone, "#book-cancel-submit").await;
    wait_text(&phone, "#book-cancel-error", "cannot be cancelled").await;
    shot(&phone, "booking-cancel-refused-en").await;
    phone.close().await.unwrap();
    let stored = node.bookings_of_day("2026-11-23").await.unwrap();
    let row = stored.iter().find(|b| b.code == later.code).unwrap();
    assert_eq!(row.status, "cancelled");

    // The supervisor's statistics: four bookings today, two arrived, one
    // no-show (who came late), one cancelled; and the queue's waits by
    // channel.
    let sup = driver.browser("stats-bookings", 1280, 900).await;
    login(&sup, base, "sup1").await;
    sup.goto(&format!("{base}/supervisor/stats")).await.unwrap();
    let row = |n: usize| format!("#table-stats-bookings tbody tr:nth-child({n}) td:nth-child(2)");
    for (n, count) in [(1, "4"), (2, "2"), (3, "1"), (4, "1"), (5, "1"), (6, "0")] {
        wait_text(&sup, &row(n), count).await;
    }
    wait_text(
        &sup,
        "#table-stats-channels tbody tr:nth-child(1)",
        "预约号",
    )
    .await;
    let booked = find(&sup, "#table-stats-channels tbody tr:nth-child(1)")
        .await
        .text()
        .await
        .unwrap();
    assert!(booked.contains('2'), "two booked numbers: {booked}");
    shot(&sup, "supervisor-stats-bookings").await;
    let csv = sup
        .execute(
            "return fetch('/supervisor/export/stats-bookings?days=30').then(r => r.text());",
            vec![],
        )
        .await
        .unwrap();
    let csv = csv.as_str().unwrap().trim_start_matches('\u{feff}');
    assert!(csv.starts_with("预约结果,预约数"), "{csv}");
    assert!(csv.contains("过时未到,1"), "{csv}");
    sup.goto(&format!("{base}/lang/en?next=/supervisor/stats"))
        .await
        .unwrap();
    wait_text(&sup, "#table-stats-bookings", "Of which came late").await;
    wait_text(&sup, "#table-stats-channels", "Walk-in numbers (A)").await;
    shot(&sup, "supervisor-stats-bookings-en").await;
    sup.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booked_citizen_in_their_slot_is_called_before_an_earlier_walk_in() {
    let driver = Driver::start().await;
    let clock = Arc::new(StartedClock::at(onewindow_tests::START_MS));
    let h = hall_on(clock.clone()).await;
    tokio::time::timeout(
        Duration::from_secs(300),
        booked_before_walk_ins(&driver, &h, &clock),
    )
    .await
    .expect("the bookings finished in time");
    h.node.stop().await;
    drop(driver);
}

/// Data instead of paper: a couple registered their marriage at the hall;
/// at their divorce registration the clerk enters the ID number, finds
/// that result, and marks the marriage certificate presented by data with
/// its number; the receipt says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clerk_presents_a_material_by_data_in_a_real_browser() {
    let driver = Driver::start().await;
    let h = hall().await;
    let base = &h.base;
    let clerk_api = onewindow_tests::Api::login(base, "clerk1", STAFF_PASSWORD).await;
    let guide = clerk_api
        .get_ok("/api/v1/catalogue/matters/NH-MZ-007")
        .await;
    let mut marriage = onewindow_tests::complete_submission(&guide, PERSON);
    marriage["applicant"]["name"] = json!("张三");
    let married = clerk_api.post_ok("/api/v1/cases", &marriage).await;
    assert_eq!(married["outcome"], "completion", "{married}");
    let married = married["case_number"].as_str().unwrap().to_owned();
    tokio::time::timeout(Duration::from_secs(120), async {
        let c = driver.browser("by-data", 1280, 900).await;
        login(&c, base, "clerk1").await;
        c.goto(&format!("{base}/clerk/apply/NH-MZ-008"))
            .await
            .unwrap();
        // Before the lookup the material says to look up first.
        wait_text(&c, "#materials", "先按证件号码查询").await;
        fill_applicant(&c).await;
        click(&c, "#data-lookup").await;
        wait_text(&c, "#data-results", &married).await;
        wait_text(&c, "#data-results", "内地居民结婚登记").await;
        // The fields typed are kept.
        let name = find(&c, "#name").await.prop("value").await.unwrap();
        assert_eq!(name.as_deref(), Some("张三"));
        find(&c, "#data_M02")
            .await
            .select_by_value(&married)
            .await
            .unwrap();
        for m in ["M01", "M03", "M04"] {
            click(&c, &format!("#have_{m}")).await;
        }
        shot(&c, "apply-by-data").await;
        click(&c, "#submit-apply").await;
        wait_text(&c, ".flash.ok", "NH-").await;
        let url = c.current_url().await.unwrap();
        let number = url.path().rsplit('/').next().unwrap().to_owned();
        // The receipt lists the material as presented by data, with its
        // reference, in both languages.
        c.goto(&format!("{base}/cases/{number}/document"))
            .await
            .unwrap();
        wait_text(&c, "body", "由数据核验，引用").await;
        wait_text(&c, "body", &format!("presented by data, ref {married}")).await;
        shot(&c, "receipt-by-data").await;
        // In English, the lookup and its column.
        c.goto(&format!("{base}/lang/en?next=/clerk/apply/NH-MZ-008"))
            .await
            .unwrap();
        fill_applicant(&c).await;
        click(&c, "#data-lookup").await;
        wait_text(&c, "#data-results", "Results that replace materials").await;
        wait_text(&c, "#materials", "Presented by data").await;
        shot(&c, "apply-by-data-en").await;
        c.close().await.unwrap();
    })
    .await
    .expect("the clerk finished in time");
    // The case records the reference, and the lookups are audit records.
    let case = clerk_api
        .get_ok(&format!(
            "/api/v1/cases?matter=NH-MZ-008&applicant={PERSON}"
        ))
        .await;
    let m02 = case[0]["case"]["materials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["code"] == "M02")
        .unwrap()
        .clone();
    assert_eq!(m02["by_data"], json!(married));
    let lookups = h
        .node
        .node
        .store
        .audit_actions(None, Some("data_lookup"), 10)
        .await
        .unwrap();
    assert_eq!(lookups.len(), 2);
    assert!(lookups.iter().all(|(_, _, a)| a.actor == "clerk1"
        && a.target == "NH-MZ-008"
        && a.detail.contains(&PERSON[14..])));
    h.node.stop().await;
    drop(driver);
}

/// A case accepted at a village, decided at its township and seen at the
/// district: each of its documents, opened in the browser by a member of
/// staff of each of the three halls after the case has moved on, is the
/// same page, byte for byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_reads_the_same_at_the_village_and_the_township_and_without_its_content_at_the_district()
 {
    const DISTRICT: &str = "nanhai";
    const TOWNSHIP: &str = "nanhai.guicheng";
    const VILLAGE: &str = "nanhai.guicheng.xiaping";
    let driver = Driver::start().await;
    let t = onewindow_tests::tree(&[DISTRICT, TOWNSHIP, VILLAGE]).await;
    let cat = onewindow_tests::Api::anonymous(&t.url(VILLAGE))
        .get_ok("/api/v1/catalogue")
        .await;
    let up = onewindow_tests::matter_decided_at(&cat, "township");
    let clerk = t.staff(VILLAGE, "clerk1", "clerk", None).await;
    let r = clerk
        .post_ok(
            "/api/v1/cases",
            &onewindow_tests::complete_submission(&up, PERSON),
        )
        .await;
    let n = r["case_number"].as_str().unwrap().to_owned();
    let dept = up["department"].as_str().unwrap();
    let approvers = [
        t.staff(TOWNSHIP, "appr1", "approver", Some(dept)).await,
        t.staff(TOWNSHIP, "appr2", "approver", Some(dept)).await,
        t.staff(TOWNSHIP, "appr3", "approver", Some(dept)).await,
    ];
    t.eventually(30, "the case at the township", || async {
        t.node(TOWNSHIP).node.store.case(&n).await.unwrap()
    })
    .await;
    for (who, body) in [
        (0, json!({"action": "start_handling"})),
        (
            0,
            json!({"action": "submit_for_review", "opinion": "材料齐全"}),
        ),
        (1, json!({"action": "pass_review", "opinion": "同意"})),
        (
            2,
            json!({"action": "decide", "granted": true, "opinion": "准予"}),
        ),
        (2, json!({"action": "result_ready", "result": "证明一份"})),
    ] {
        approvers[who]
            .post_ok(&format!("/api/v1/cases/{n}/actions"), &body)
            .await;
    }
    // The case has moved on: its result is back at the village window, and
    // the district holds the whole record.
    for id in [VILLAGE, DISTRICT] {
        t.eventually(30, "the result below and above", || async {
            t.node(id)
                .node
                .store
                .case(&n)
                .await
                .unwrap()
                .filter(|r| r.case.state.as_str() == "result_ready" && r.case.documents.len() == 2)
        })
        .await;
    }
    let docs = clerk.get_ok(&format!("/api/v1/cases/{n}/documents")).await;
    let versions: Vec<u64> = docs
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["version"].as_u64().unwrap())
        .collect();
    assert_eq!(versions.len(), 2, "a receipt and a result notice: {docs}");
    let _ = t.staff(DISTRICT, "sup1", "supervisor", None).await;

    let c = driver.browser("halls", 1280, 900).await;
    for (i, v) in versions.iter().enumerate() {
        let mut pages = Vec::new();
        for (id, user) in [(VILLAGE, "clerk1"), (TOWNSHIP, "appr1"), (DISTRICT, "sup1")] {
            // The halls share a host, and so the browser's cookie: each
            // page is opened right after logging in at its hall.
            c.goto(&format!("{}/login", t.url(id))).await.unwrap();
            fill(&c, "#username", user).await;
            fill(&c, "#password", STAFF_PASSWORD).await;
            click(&c, "#login-submit").await;
            wait_text(&c, ".tools .who", user).await;
            c.goto(&format!("{}/cases/{n}/documents/{v}", t.url(id)))
                .await
                .unwrap();
            find(&c, "#seal").await;
            // The bytes the hall sent, fetched again by the page itself.
            let raw = c
                .execute(
                    "return fetch(location.href, {credentials: 'same-origin'}).then(r => r.text());",
                    vec![],
                )
                .await
                .unwrap();
            pages.push((id, raw.as_str().unwrap().to_owned()));
            if id == DISTRICT {
                let name = if i == 0 {
                    "document-receipt-at-district"
                } else {
                    "document-result-at-district"
                };
                shot(&c, name).await;
            }
        }
        let (_, first) = &pages[0];
        assert!(first.contains(&n));
        for (id, page) in &pages[1..] {
            if *id == DISTRICT {
                // The district holds the record without its personal
                // content: the same seal, not the applicant's name.
                assert!(page.contains(&n), "{page}");
                assert!(first.contains("李四") && !page.contains("李四"), "{page}");
            } else {
                assert_eq!(page, first, "document {v} differs at {id}");
            }
        }
    }
    c.close().await.unwrap();
    drop(driver);
}

/// How far a page scrolls sideways.
async fn sideways(c: &Client) -> i64 {
    c.execute(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
        vec![],
    )
    .await
    .unwrap()
    .as_i64()
    .unwrap()
}

/// A citizen pre-applies for 居民身份证申领 on a phone with a photo of the
/// household register and learns at once that the photo and fingerprints
/// and the application form are still missing (both made at the window);
/// a file that only calls itself a photo is refused, in English. At the
/// window the clerk opens the
/// pre-application by its reference, ticks the originals checked and
/// accepts it in one step; the case says it came online and carries the
/// photo, and the clerk attaches a scan.
async fn pre_application_walk(driver: &Driver, h: &Hall) {
    let base = &h.base;
    let files = tempfile::tempdir().unwrap();
    let photo = files.path().join("hukou.jpg");
    let mut jpeg = vec![
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0,
    ];
    jpeg.extend((0..4000u32).map(|i| (i % 251) as u8));
    std::fs::write(&photo, &jpeg).unwrap();
    let fake = files.path().join("photo.jpg");
    std::fs::write(&fake, b"<html><body>not a photo</body></html>").unwrap();
    let scan = files.path().join("scan.pdf");
    std::fs::write(&scan, b"%PDF-1.4\n%%EOF\n").unwrap();

    let phone = driver.browser("preapply-phone", 390, 844).await;
    phone.goto(&format!("{base}/preapply")).await.unwrap();
    find(&phone, "#p-matter")
        .await
        .select_by_value("NH-GA-005")
        .await
        .unwrap();
    click(&phone, "#preapply-choose").await;
    fill(&phone, "#p-name", "张三").await;
    fill(&phone, "#p-id", PERSON).await;
    fill(&phone, "#p-phone", "13800000000").await;
    click(&phone, "#sit-adult").await;
    click(&phone, "#mat-M01").await;
    find(&phone, "#file-M01")
        .await
        .send_keys(&photo.display().to_string())
        .await
        .unwrap();
    shot(&phone, "preapply").await;
    assert_eq!(
        sideways(&phone).await,
        0,
        "no sideways scrolling on a phone"
    );
    click(&phone, "#preapply-submit").await;
    let reference = find(&phone, "#preapply-reference")
        .await
        .text()
        .await
        .unwrap()
        .trim()
        .to_owned();
    assert!(reference.starts_with("YS"), "{reference}");
    wait_text(&phone, "#preapply-missing", "现场采集的人像和指纹信息").await;
    wait_text(&phone, "#preapply-files", "居民户口簿").await;
    shot(&phone, "preapply-done").await;
    assert_eq!(
        sideways(&phone).await,
        0,
        "no sideways scrolling on a phone"
    );

    // In English, a page that calls itself photo.jpg is refused for what
    // it is.
    phone
        .goto(&format!(
            "{base}/lang/en?next=/preapply%3Fmatter%3DNH-GA-005"
        ))
        .await
        .unwrap();
    fill(&phone, "#p-name", "Li Si").await;
    fill(&phone, "#p-id", PERSON).await;
    click(&phone, "#mat-M01").await;
    find(&phone, "#file-M01")
        .await
        .send_keys(&fake.display().to_string())
        .await
        .unwrap();
    click(&phone, "#preapply-submit").await;
    find(&phone, "#preapply-error").await;
    // Said once, next to the form, not again at the top of the page.
    assert!(phone.find(Locator::Css("#page-error")).await.is_err());
    shot(&phone, "preapply-refused-en").await;
    wait_text(
        &phone,
        "#preapply-error",
        "JPEG or PNG images and PDF files are taken",
    )
    .await;
    phone.close().await.unwrap();

    // At the window.
    let c = driver.browser("preapply-desk", 1280, 900).await;
    login(&c, base, "clerk1").await;
    c.goto(&format!("{base}/clerk/pre-applications"))
        .await
        .unwrap();
    // A reference nobody was given: said once, next to the search.
    fill(&c, "#preapps-q", "YS00000000").await;
    click(&c, "#preapps-find-button").await;
    find(&c, "#preapps-error").await;
    assert!(c.find(Locator::Css("#page-error")).await.is_err());
    c.find(Locator::Css("#preapps-q"))
        .await
        .unwrap()
        .clear()
        .await
        .unwrap();
    fill(&c, "#preapps-q", &reference.to_lowercase()).await;
    click(&c, "#preapps-find-button").await;
    wait_text(&c, "#preapp-reference", &reference).await;
    wait_text(&c, "#preapp-missing", "现场采集的人像和指纹信息").await;
    // The applicant's photo of the register opens for the clerk.
    find(&c, "#preapp-materials a.file-link").await;
    assert!(find(&c, "#present-M01").await.is_selected().await.unwrap());
    // The photo and fingerprints are taken, and the form printed and
    // signed, at the window.
    click(&c, "#present-M02").await;
    click(&c, "#present-M04").await;
    shot(&c, "preapp-clerk").await;
    click(&c, "#preapp-accept").await;
    wait_text(&c, "#case-intake", "网上预审").await;
    wait_text(&c, "#case-files", "居民户口簿").await;
    let number = find(&c, "#case-number").await.text().await.unwrap();
    let case = h
        .node
        .node
        .store
        .case(number.trim())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(case.case.state.as_str(), "accepted");
    assert_eq!(case.case.attachments.len(), 1);
    // A scan of the register, attached at the window.
    find(&c, "#attach-material")
        .await
        .select_by_value("M01")
        .await
        .unwrap();
    find(&c, "#attach-file")
        .await
        .send_keys(&scan.display().to_string())
        .await
        .unwrap();
    click(&c, "#attach-button").await;
    wait_text(&c, "#case-files", "PDF").await;
    shot(&c, "preapp-case").await;
    let case = h
        .node
        .node
        .store
        .case(number.trim())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(case.case.attachments.len(), 2);
    // The approver who handles the case sees both files with it.
    logout(&c).await;
    login(&c, base, "ga.one").await;
    c.goto(&format!("{base}/approver/cases/{}", number.trim()))
        .await
        .unwrap();
    wait_text(&c, "#case-files", "PDF").await;
    wait_text(&c, "#case-files", "JPEG").await;
    shot(&c, "preapp-approver").await;
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pre_application_from_a_phone_is_accepted_at_the_window_in_one_step() {
    let driver = Driver::start().await;
    let h = hall().await;
    tokio::time::timeout(Duration::from_secs(300), pre_application_walk(&driver, &h))
        .await
        .expect("the pre-application finished in time");
    h.node.stop().await;
    drop(driver);
}

/// Trust first, check later, and a rating from the progress page: the
/// clerk issues 食品经营许可 (NH-SC-007) at once on the applicant's signed
/// pledge; the market regulator's approver finds it in the post-check
/// list with its due day and revokes it; the citizen's phone shows the
/// result revoked and rates the service from the progress page (channel
/// `web`), after which the QR code's rating page says it is rated; the
/// supervisor's statistics count the revoked result; the trace names the
/// rating's channel. The rating page also takes an SMS's rating code,
/// refusing a wrong one in words.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trust_first_result_is_revoked_after_its_check_and_rated_from_the_progress_page() {
    let driver = Driver::start().await;
    let h = hall().await;
    tokio::time::timeout(Duration::from_secs(300), trust_first_walk(&driver, &h))
        .await
        .expect("the walk finished in time");
    h.node.stop().await;
    drop(driver);
}

async fn trust_first_walk(driver: &Driver, h: &Hall) {
    let base = &h.base;
    let admin = onewindow_tests::Api::login(base, "admin", ADMIN_PASSWORD).await;
    admin
        .post_ok(
            "/api/v1/staff",
            &json!({"username": "sc.one", "display_name": "sc.one 测试", "role": "approver",
                    "department": "shichang", "password": STAFF_PASSWORD}),
        )
        .await;
    let c = driver.browser("trust", 1280, 900).await;

    // The clerk: the pledge is on the form of a trust-first matter.
    login(&c, base, "clerk1").await;
    c.goto(&format!("{base}/clerk/apply/NH-SC-007"))
        .await
        .unwrap();
    wait_text(&c, "#pledge-text", "本人（本单位）承诺").await;
    fill_applicant(&c).await;
    for m in ["#have_M01", "#elec_M02", "#have_M03", "#have_M05"] {
        click(&c, m).await;
    }
    click(&c, "#pledge_signed").await;
    shot(&c, "trust-clerk-pledge").await;
    click(&c, "#submit-apply").await;
    let n = wait_text(&c, "#case-number", "NH").await;
    c.goto(&format!("{base}/cases/{n}/document")).await.unwrap();
    wait_text(&c, "body", "办结通知书").await;
    wait_text(&c, "body", "先信任、再审核").await;
    find(&c, "#rate-qr svg").await;
    shot(&c, "trust-document-completion").await;
    c.goto(&format!("{base}/clerk")).await.unwrap();
    logout(&c).await;

    // The approver: the post-check list, its due day, and the revocation.
    login(&c, base, "sc.one").await;
    let row = wait_text(
        &c,
        &format!("#post-check-queue tr[data-case=\"{n}\"]"),
        "张三",
    )
    .await;
    assert!(row.contains("2026-12-21"), "due in 20 working days: {row}");
    shot(&c, "trust-approver-queue").await;
    click(
        &c,
        &format!("#post-check-queue a[href=\"/approver/cases/{n}\"]"),
    )
    .await;
    wait_text(&c, "#trust-status", "待核查").await;
    wait_text(&c, "#trust-pledge", "本人（本单位）承诺").await;
    fill(&c, "#pc-reason", "现场核查：无食品安全管理制度").await;
    shot(&c, "trust-approver-case").await;
    click(&c, "#act-revoke_result").await;
    wait_text(&c, ".flash.ok", "办理结果已撤销").await;
    wait_text(&c, "#trust-status", "已撤销").await;
    wait_text(&c, "#trace", "事后核查未通过，撤销结果").await;
    assert!(c.find(Locator::Css("#act-revoke_result")).await.is_err());
    // Nothing is left to do on a revoked result, and the page says so.
    wait_text(&c, "#no-actions", "无可办理的操作").await;
    shot(&c, "trust-approver-revoked").await;
    c.goto(&format!("{base}/lang/en?next=/approver/cases/{n}"))
        .await
        .unwrap();
    wait_text(&c, "#trust-status", "Revoked").await;
    shot(&c, "trust-approver-revoked-en").await;
    c.goto(&format!("{base}/lang/zh?next=/approver"))
        .await
        .unwrap();
    // The decision of revocation, issued to the applicant.
    c.goto(&format!("{base}/approver/cases/{n}")).await.unwrap();
    let docs = c
        .find_all(Locator::Css(&format!("a[href^=\"/cases/{n}/documents/\"]")))
        .await
        .unwrap();
    let href = docs.last().unwrap().attr("href").await.unwrap().unwrap();
    c.goto(&format!("{base}{href}")).await.unwrap();
    wait_text(&c, "body", "撤销决定书").await;
    wait_text(&c, "body", "无食品安全管理制度").await;
    shot(&c, "trust-document-revocation").await;
    c.goto(&format!("{base}/approver")).await.unwrap();
    logout(&c).await;

    // The citizen's phone: the progress page says the result was revoked,
    // and the service is rated from there.
    let phone = driver.browser("trust-phone", 390, 844).await;
    phone.goto(&format!("{base}/progress")).await.unwrap();
    fill(&phone, "#p-number", &n).await;
    fill(&phone, "#p-last4", "002x").await;
    click(&phone, "#progress-submit").await;
    wait_text(&phone, "#trust-revoked", "已被撤销").await;
    wait_text(&phone, "#next-steps", "撤销决定书").await;
    find(&phone, "#progress-rate-form").await;
    shot(&phone, "trust-progress-revoked-phone").await;
    fill(&phone, "#rate-comment", "窗口说明清楚").await;
    click(&phone, "#score-2").await;
    wait_text(&phone, "#rated", "感谢").await;
    assert!(
        phone
            .find(Locator::Css("#progress-rate-form"))
            .await
            .is_err()
    );
    shot(&phone, "trust-progress-rated-phone").await;
    phone
        .goto(&format!(
            "{base}/lang/en?next=/progress?number={n}%26last4=002X"
        ))
        .await
        .unwrap();
    wait_text(&phone, "#trust-revoked", "revoked").await;
    wait_text(&phone, "#rated", "Thank you").await;
    shot(&phone, "trust-progress-rated-phone-en").await;
    // The QR code's rating page: one rating per case, so it says rated.
    phone
        .goto(&format!("{base}/lang/zh?next=/progress"))
        .await
        .unwrap();
    phone.goto(&h.node.node.rating_link(&n)).await.unwrap();
    wait_text(&phone, "#rated", "感谢").await;
    assert!(phone.find(Locator::Css("#qr-rate-form")).await.is_err());
    shot(&phone, "trust-qr-rated-phone").await;
    // A made-up key opens nothing.
    phone
        .goto(&format!("{base}/rate?n={n}&k={}", "0".repeat(32)))
        .await
        .unwrap();
    wait_text(&phone, "#page-error", "评价链接无效").await;
    // The rating page without a link takes the code of the completion
    // SMS: a wrong one is refused in words, the right one finds the case
    // rated already (one rating per case).
    phone.goto(&format!("{base}/rate")).await.unwrap();
    find(&phone, "#sms-rate-form").await;
    fill(&phone, "#sms-number", &n).await;
    let code = h.node.node.sms_code(&n);
    let wrong = if code == "00000000" {
        "00000001"
    } else {
        "00000000"
    };
    fill(&phone, "#sms-code", wrong).await;
    click(&phone, "#score-1").await;
    wait_text(&phone, "#page-error", "短信评价码不正确").await;
    shot(&phone, "sms-rate-refused-phone").await;
    fill(&phone, "#sms-code", &code).await;
    click(&phone, "#score-1").await;
    wait_text(&phone, "#page-error", "每件只能评价一次").await;
    phone
        .goto(&format!("{base}/lang/en?next=/rate"))
        .await
        .unwrap();
    wait_text(&phone, "#sms-rate-form", "SMS rating code").await;
    shot(&phone, "sms-rate-phone-en").await;
    phone.close().await.unwrap();

    // The supervisor: the trace names the channel; the statistics count
    // the trust-first result and its revocation.
    login(&c, base, "sup1").await;
    c.goto(&format!("{base}/supervisor/cases/{n}"))
        .await
        .unwrap();
    wait_text(&c, "#trace", "网上（进度查询页面）").await;
    shot(&c, "trust-supervisor-case").await;
    c.goto(&format!("{base}/supervisor/stats")).await.unwrap();
    // The data tables are folded; the one of trust-first results is opened.
    find(&c, "#table-stats-trust").await;
    c.execute(
        "const t = document.getElementById('table-stats-trust'); \
         t.closest('details').open = true; t.scrollIntoView();",
        vec![],
    )
    .await
    .unwrap();
    wait_text(&c, "#table-stats-trust", "核查后撤销").await;
    let mut counted = Vec::new();
    for row in c
        .find_all(Locator::Css("#table-stats-trust tbody tr"))
        .await
        .unwrap()
    {
        let cells = row.find_all(Locator::Css("td")).await.unwrap();
        let mut texts = Vec::new();
        for cell in cells {
            texts.push(cell.text().await.unwrap());
        }
        counted.push(texts.join("|"));
    }
    assert!(
        counted.contains(&"凭承诺当场出证|1".to_owned())
            && counted.contains(&"核查后撤销|1".to_owned()),
        "{counted:?}"
    );
    shot(&c, "trust-supervisor-stats").await;
    logout(&c).await;
    c.close().await.unwrap();
}
