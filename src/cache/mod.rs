//! In-memory copies that keep remote and disk lookups off the hot path: the clinic
//! directory, chat sessions, the price list; plus per-chat ordering locks and single-flight
//! lookups. Caches load only from `db`.

pub mod chat_locks;
pub mod clinics;
pub mod prices;
pub mod sessions;
pub mod single_flight;

pub use chat_locks::ChatLocks;
pub use clinics::ClinicDirectory;
pub use prices::{ClinicPrices, PriceCache};
pub use sessions::{ChatKey, ChatLookup, ChatState, SessionCache};
pub use single_flight::SingleFlight;
