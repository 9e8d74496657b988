//! First start and every start: open the store, load or seed the catalogue,
//! the calendar and the first administrator.

use std::sync::{Arc, RwLock};

use super::{Clock, NewStaff, Node};
use crate::config::Config;
use crate::metrics::Metrics;
use onewindow_domain::calendar::Calendar;
use onewindow_domain::case::Role;
use onewindow_domain::starter;
use onewindow_store::Store;

use crate::HallNames;

impl Node {
    /// Opens the store and brings the node up to date with its seed data.
    pub async fn open(config: Arc<Config>, clock: Arc<dyn Clock>) -> anyhow::Result<Node> {
        config.validate()?;
        let id = config.node_id();
        let tier = config.tier().to_owned();
        if config.database.url.is_empty() {
            std::fs::create_dir_all(&config.node.data_dir)?;
        }
        let store = Store::open(
            &config.database_url(),
            id.clone(),
            config.database.max_connections,
            &config.database.sqlite_synchronous,
            config.database.sqlite_cache_kib,
        )
        .await?;
        store
            .set_case_cache_rows(config.database.case_cache_rows as usize)
            .await;
        let now = clock.now_ms();
        let catalogue = match store.published_catalogue().await? {
            Some(c) => c,
            None => {
                let cat = starter::catalogue()?;
                let v = store.create_draft(&cat, now).await?;
                let published = store.publish(v, now).await?;
                tracing::info!(
                    version = v,
                    matters = published.matters.len(),
                    "published the starter catalogue"
                );
                published
            }
        };
        if store.calendars().await?.is_empty() {
            for y in starter::calendars()? {
                store.put_calendar(&y, now).await?;
            }
        }
        let mut calendar = Calendar::new();
        for y in store.calendars().await? {
            calendar.insert_year(y)?;
        }
        let signer = match config.federation.signing_key_file.as_str() {
            "" => None,
            file => Some(crate::signing::Signer::from_hex(&std::fs::read_to_string(
                file,
            )?)?),
        };
        let document_key = crate::documents::DocumentKey::load(&config, signer.as_ref())?;
        // Only a node that replicates to a parent can take its log back.
        let fed = &config.federation;
        let ca = match fed.ca_key_file.as_str() {
            "" => None,
            file => {
                use anyhow::Context;
                let key = std::fs::read_to_string(file)
                    .with_context(|| format!("reading the CA key {file}"))?;
                let cert_file =
                    std::path::Path::new(&fed.credentials_dir).join(federation::identity::CA_FILE);
                let cert = std::fs::read_to_string(&cert_file)
                    .with_context(|| format!("reading {}", cert_file.display()))?;
                Some(
                    federation::FederationCa::from_pem(&cert, &key)
                        .with_context(|| format!("the CA of {file}"))?,
                )
            }
        };
        let own_log = if id.parent().is_some()
            && !fed.credentials_dir.is_empty()
            && !fed.parent_addrs().is_empty()
        {
            let (own, _) = store.own_head().await;
            crate::recovery::OwnLog::open(
                &config.node.data_dir,
                &config.node.hall_code,
                &store,
                own,
            )
            .await?
        } else {
            crate::recovery::OwnLog::none()
        };
        let mut halls: HallNames = store
            .hall_names()
            .await?
            .into_iter()
            .map(|(id, zh, en)| (id, (zh, en)))
            .collect();
        // The names the configuration gives the tree's other halls, unless
        // a status report (kept in the store) named them already.
        for (hall, zh, en) in config.node.tree_hall_entries() {
            if !zh.is_empty() || !en.is_empty() {
                halls
                    .entry(hall.to_owned())
                    .or_insert_with(|| (zh.to_owned(), en.to_owned()));
            }
        }
        halls.insert(
            id.to_string(),
            (
                config.node.hall_name_zh.clone(),
                config.node.hall_name_en.clone(),
            ),
        );
        let incarnation = crate::Incarnation::begin(&store).await?;
        let node = Node {
            incarnation,
            halls: RwLock::new(Arc::new(halls)),
            handovers_known: std::sync::atomic::AtomicBool::new(false),
            closed: std::sync::atomic::AtomicBool::new(false),
            config: Arc::clone(&config),
            id,
            tier,
            store,
            clock,
            metrics: Metrics::new(),
            catalogue: RwLock::new(Arc::new(catalogue)),
            calendar: RwLock::new(Arc::new(calendar)),
            uplink: crate::uplink::Uplink::default(),
            signer,
            document_key,
            http_addr: std::sync::OnceLock::new(),
            ca,
            registry: Arc::default(),
            uplink_queries: std::sync::Mutex::new(None),
            downlink_queries: std::sync::Mutex::new(std::collections::HashMap::new()),
            fetching: tokio::sync::Mutex::new(()),
            fill_after: std::sync::Mutex::new(String::new()),
            own_log,
            logins: crate::throttle::LoginThrottle::new(crate::throttle::Limits {
                account_failures: config.auth.lockout_failures,
                address_failures: config.auth.lockout_address_failures,
                lockout_ms: i64::from(config.auth.lockout_minutes) * 60_000,
            }),
        };
        node.load_handovers().await?;
        let this_year = chrono::Datelike::year(&node.today());
        if !node.calendar().has_year(this_year) {
            tracing::warn!(
                year = this_year,
                "NO HOLIDAY CALENDAR for the current year: deadlines count weekends only until one is published"
            );
        }
        node.bootstrap_admin().await?;
        match node.fill_follow_ups().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(cases = n, "follow-ups of earlier bad ratings opened"),
            Err(e) => tracing::warn!(error = %e, "follow-ups of earlier bad ratings not opened"),
        }
        node.store.send_personal_up(node.personal_data_above());
        Ok(node)
    }

    async fn bootstrap_admin(&self) -> anyhow::Result<()> {
        if self.store.staff_count().await? > 0 {
            return Ok(());
        }
        let (password, generated) = match self.config.bootstrap_password()? {
            Some(p) => (p, false),
            None => {
                use rand::Rng;
                let p: String = rand::thread_rng()
                    .sample_iter(&rand::distributions::Alphanumeric)
                    .take(20)
                    .map(char::from)
                    .collect();
                (p, true)
            }
        };
        self.create_staff_unchecked(NewStaff {
            username: self.config.auth.bootstrap_admin.clone(),
            display_name: "系统管理员".into(),
            role: Role::Admin,
            department: None,
            password: password.clone(),
            hall: None,
        })
        .await
        .map_err(|e| anyhow::anyhow!("creating the first administrator: {e}"))?;
        if generated {
            println!(
                "created administrator {:?} with password {password} (shown once; change it)",
                self.config.auth.bootstrap_admin
            );
        }
        Ok(())
    }
}
