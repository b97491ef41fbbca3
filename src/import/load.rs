//! `avisa import FILE`: the file read while it is imported, the one place
//! the importer meets the database. A thread reads and checks the CSV
//! ([`read_csv`]) and hands valid rows over in batches; the store stages
//! them as they come (`Store::begin_import`) and, when the whole file was
//! good (or `--skip-invalid`), writes them in one transaction. Neither the
//! file nor its rows are ever all in memory.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use chrono::Utc;

use super::{ImportError, Item, RowError, check_encoding, read_csv};
use crate::domain::{Locale, Region};
use crate::i18n;
use crate::store::{Committed, NewSubscription, Store, StoreError};

/// Rows handed to the store at a time, and batches waiting at most.
const BATCH: usize = 4_096;
const BATCHES_AHEAD: usize = 4;

/// Why a file was not imported. `Display` is [`LoadError::render`] in the
/// default language (Spanish) for the import's own errors.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{}", self.render(Locale::default()))]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{}", self.render(Locale::default()))]
    Reader(String),
}

impl LoadError {
    /// The error in `locale` (a store error as the store words it).
    pub fn render(&self, locale: Locale) -> String {
        match self {
            LoadError::Open { path, source } => i18n::format(
                locale,
                "import.open",
                &[("path", &path.display()), ("error", source)],
            ),
            LoadError::Import(error) => error.render(locale),
            LoadError::Store(error) => error.to_string(),
            LoadError::Reader(error) => i18n::format(locale, "import.reader", &[("error", error)]),
        }
    }
}

/// What [`import_file`] found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loaded {
    /// Rows without errors.
    pub rows: u64,
    /// Lines with at least one error.
    pub invalid_lines: u64,
    /// What was written; `None` when nothing was (a dry run, or bad rows
    /// without `skip_invalid`).
    pub written: Option<Committed>,
}

/// Imports the CSV at `path` into `store` (`None`: only check it). Every
/// bad cell goes to `on_error` as it is found, in file order. With bad rows
/// nothing is written unless `skip_invalid`, which writes the good ones.
pub async fn import_file(
    path: &Path,
    region: Region,
    store: Option<&dyn Store>,
    skip_invalid: bool,
    mut on_error: impl FnMut(&RowError) + Send + 'static,
) -> Result<Loaded, LoadError> {
    let open = |path: &Path| {
        std::fs::File::open(path)
            .map(std::io::BufReader::new)
            .map_err(|source| LoadError::Open {
                path: path.to_path_buf(),
                source,
            })
    };
    // Encoding first, as for a file read whole: one clear error instead of
    // the rows before the bad byte.
    let checked = open(path)?;
    tokio::task::spawn_blocking(move || check_encoding(checked))
        .await
        .map_err(|e| LoadError::Reader(e.to_string()))??;

    let file = open(path)?;
    let (batches, mut incoming) = tokio::sync::mpsc::channel::<Vec<NewSubscription>>(BATCHES_AHEAD);
    let staging = store.is_some();
    let reader = tokio::task::spawn_blocking(move || {
        let (mut rows, mut invalid_lines, mut last_bad) = (0u64, 0u64, 0usize);
        let mut batch = Vec::with_capacity(BATCH);
        // Rows are sent on until a bad one shows that nothing will be written.
        let mut sending = staging;
        read_csv(file, region, |item| {
            match item {
                Item::Row(row) => {
                    rows += 1;
                    if sending {
                        batch.push(row.into_subscription());
                        if batch.len() == BATCH
                            && batches.blocking_send(std::mem::take(&mut batch)).is_err()
                        {
                            // The store failed: its error is the answer.
                            return ControlFlow::Break(());
                        }
                    }
                }
                Item::Error(error) => {
                    if error.line != last_bad {
                        invalid_lines += 1;
                        last_bad = error.line;
                    }
                    on_error(&error);
                    if !skip_invalid {
                        sending = false;
                        batch = Vec::new();
                    }
                }
            }
            ControlFlow::Continue(())
        })?;
        if sending && !batch.is_empty() {
            // A closed channel means the store failed; it reports why.
            let _ = batches.blocking_send(batch);
        }
        Ok::<_, ImportError>((rows, invalid_lines))
    });

    let mut session = match store {
        Some(store) => Some(store.begin_import().await?),
        None => None,
    };
    while let Some(batch) = incoming.recv().await {
        if let Some(session) = session.as_mut() {
            session.stage(&batch).await?;
        }
    }
    let (rows, invalid_lines) = reader
        .await
        .map_err(|e| LoadError::Reader(e.to_string()))??;
    let written = match session {
        Some(session) if invalid_lines == 0 || skip_invalid => {
            Some(session.commit(Utc::now()).await?)
        }
        _ => None,
    };
    Ok(Loaded {
        rows,
        invalid_lines,
        written,
    })
}
