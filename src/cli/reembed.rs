//! `faceauth reembed`: re-embeds every stored reference that another recognizer made, so that a
//! model switch costs the users nothing. Resumable and idempotent: references already made by the
//! loaded recognizer are skipped, so an interrupted run is simply run again. Safe while the service
//! serves: both rewrite a sidecar in place from the same photo. With `TEMPLATE_KMS_KEY_ID` set it
//! also encrypts, in place, every photo and sidecar written before the key was.

use indicatif::{ProgressBar, ProgressStyle};

use crate::config::RawEnv;
use crate::service::MigrationReport;

pub async fn run(raw: RawEnv) -> anyhow::Result<()> {
    let (config, sdk) = crate::startup::load_config(raw).await?;
    let service = crate::startup::build_service(&config, sdk).await?;
    let users = service.faces().users().await?;
    // Hidden when stderr is not a terminal (systemd, CI): the summary line below says it all.
    let bar = ProgressBar::new(users.len() as u64).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} users  {per_sec}  eta {eta}  {msg}")
            .expect("a valid template"),
    );
    let mut total = MigrationReport::default();
    for user in &users {
        let report = service.faces().migrate_user(user).await?;
        total += report;
        bar.set_message(format!("{} re-embedded", total.reembedded));
        bar.inc(1);
    }
    bar.finish_and_clear();
    println!(
        "re-embedded {} references of {} users for {} ({} already current, {} unusable); {} sealed under the \
         template key",
        total.reembedded,
        users.len(),
        service.faces().model_name(),
        total.current,
        total.unusable,
        total.sealed
    );
    service.faces().shutdown();
    Ok(())
}
