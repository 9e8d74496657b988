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
use onewindow_tests::{ADMIN_PASSWORD, STAFF_PASSWORD};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
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

/// Clicks an element, finding it again if the page replaced it meanwhile.
async fn click(c: &Client, css: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match find(c, css).await.click().await {
            Ok(()) => return,
            Err(e) => assert!(
                tokio::time::Instant::now() < deadline,
                "could not click {css}: {e}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn fill(c: &Client, css: &str, text: &str) {
    let e = find(c, css).await;
    e.clear().await.unwrap();
    e.send_keys(text).await.unwrap();
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
/// of the public security bureau (`gongan`) and a supervisor.
async fn hall() -> Hall {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("node.db").display());
    let c = onewindow_tests::hall_config("nanhai", &db, dir.path());
    let clock = std::sync::Arc::new(node::service::StartedClock::at(onewindow_tests::START_MS));
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
