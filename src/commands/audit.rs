//! `frontdesk audit verify`: walk the MAC chain; exit non-zero naming the first bad entry.

use super::Failure;
use crate::config::Config;
use crate::crypto::Keys;
use crate::services::audit;

/// Exit code for a broken audit chain, distinct from configuration errors.
const EX_AUDIT_BROKEN: u8 = 2;

pub async fn verify(config: Config) -> Result<(), Failure> {
    let mac = Keys::load_audit(&config.keys).map_err(Failure::config)?;
    let db = super::open_db(&config)?;
    let outcome = db.read(move |c| audit::verify(c, &mac)).await;
    db.close().await?;
    match outcome? {
        Ok(n) => {
            println!("audit log intact: {n} entries, chain and head anchor verified");
            Ok(())
        }
        Err(broken) => Err(Failure::new(
            EX_AUDIT_BROKEN,
            anyhow::anyhow!("audit log is NOT intact: {broken}"),
        )),
    }
}
