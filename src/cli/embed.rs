//! Photos through the deployed pipeline, for the measuring commands (`calibrate`, `fairness`): the
//! models and settings `serve` would load, every worker busy, a progress bar on the terminal.

use std::path::PathBuf;

use anyhow::Context;
use bytes::Bytes;
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};

use crate::config::Config;
use crate::face::engine::ModelInfo;
use crate::face::pool::PoolSettings;
use crate::face::{Embedding, InferencePool, PoolError, Purpose};

pub struct Embedder {
    pool: InferencePool,
    pub info: ModelInfo,
    queue: usize,
}

impl Embedder {
    pub async fn start(config: &Config) -> anyhow::Result<Self> {
        let (spec, info) = crate::startup::model_spec(config)?;
        let workers = config.models.workers;
        let queue = workers * 2;
        let pool = tokio::task::spawn_blocking(move || InferencePool::start(&spec, PoolSettings { workers, queue }))
            .await?
            .context("the models could not be started")?;
        Ok(Self { pool, info, queue })
    }

    /// Each photo once with `purpose` (what a probe, or a reference, would get): its embedding, or
    /// the code the API would answer (`no_face`, `face_blurry`, …; `unreadable` for a file that
    /// does not open).
    pub async fn run(&self, photos: &[PathBuf], purpose: Purpose, what: &str) -> Vec<Result<Embedding, &'static str>> {
        let bar = ProgressBar::new(photos.len() as u64).with_style(
            ProgressStyle::with_template(&format!(
                "{{bar:40}} {{pos}}/{{len}} photos {what}  {{per_sec}}  eta {{eta}}"
            ))
            .expect("template"),
        );
        let mut results: Vec<(usize, Result<Embedding, &'static str>)> =
            futures::stream::iter(photos.iter().enumerate())
                .map(|(i, path)| {
                    let (pool, bar) = (&self.pool, &bar);
                    async move {
                        let outcome = match std::fs::read(path) {
                            Ok(bytes) => match pool.analyze(Bytes::from(bytes), purpose).await {
                                Ok(a) => Ok(a.embedding),
                                Err(PoolError::Face(e)) => Err(super::refusal::code(e)),
                                Err(_) => Err("internal_error"),
                            },
                            Err(_) => Err("unreadable"),
                        };
                        bar.inc(1);
                        (i, outcome)
                    }
                })
                .buffer_unordered(self.queue)
                .collect()
                .await;
        bar.finish_and_clear();
        results.sort_by_key(|(i, _)| *i);
        results.into_iter().map(|(_, r)| r).collect()
    }

    /// The workers, for a command that needs more of them than embeddings.
    pub fn pool(&self) -> &InferencePool {
        &self.pool
    }

    pub fn shutdown(&self) {
        self.pool.shutdown();
    }
}
