//! `faceauth retention [--dry-run]`: deletes every user unused for RETENTION_PERIOD (counted from
//! their last successful verification or enrolment), with an audit record each and a summary.
//! Resumable (each user is judged and deleted on its own) and safe while the service serves.

use indicatif::{ProgressBar, ProgressStyle};

use crate::config::RawEnv;

pub async fn run(raw: RawEnv, dry_run: bool) -> anyhow::Result<()> {
    let (config, sdk) = crate::startup::load_config(raw).await?;
    let Some(period) = config.security.retention_period else {
        anyhow::bail!("RETENTION_PERIOD is not set: nothing expires (set it, e.g. RETENTION_PERIOD=1095d)");
    };
    let service = crate::startup::build_service(&config, sdk).await?;
    let flusher = config.storage.audit.as_ref().and_then(|a| service.audit().spawn_flusher(a.flush_interval));
    // Hidden when stderr is not a terminal (systemd, CI): the summary line below says it all.
    let bar = ProgressBar::new_spinner()
        .with_style(ProgressStyle::with_template("{spinner} {pos} users examined  {msg}").expect("a valid template"));
    let mut expired = 0;
    let outcome = service
        .retention_sweep(dry_run, |user, gone| {
            bar.inc(1);
            if gone {
                expired += 1;
                bar.set_message(format!("{expired} expired"));
                if dry_run {
                    bar.suspend(|| println!("would delete {user}"));
                }
            }
        })
        .await;
    bar.finish_and_clear();
    // Whatever the sweep did before it ended is recorded before the command exits.
    if let Some(flusher) = flusher {
        flusher.abort();
    }
    let flushed = service.audit().flush().await;
    let report = outcome?;
    flushed.map_err(|e| anyhow::anyhow!("the audit records of this run could not be written: {e}"))?;
    println!(
        "{} {} of {} users unused for more than {} s{}",
        if dry_run { "would delete" } else { "deleted" },
        report.expired.len(),
        report.examined,
        period.as_secs(),
        if dry_run {
            " (dry run: nothing deleted)".to_string()
        } else {
            format!(" ({} objects)", report.objects_removed)
        }
    );
    service.faces().shutdown();
    Ok(())
}
