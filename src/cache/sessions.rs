//! Chat state (contact, open session, language, human takeover) in memory, so a turn does one
//! lookup at most: the first turn of a chat reads it from SQLite (concurrent first turns
//! share that read), later turns find it here. Turns update it after they commit.

use super::SingleFlight;
use crate::db::{Db, DbError, conversations};
use crate::domain::time;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Entries kept before the map is reset (a reset only costs one read per active chat).
const MAX_ENTRIES: usize = 200_000;

/// Identifies a chat: clinic, blind index of the phone (or @lid), and channel.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChatKey {
    pub clinic_id: String,
    pub chat_index: String,
    pub provider: &'static str,
    pub instance: String,
}

impl ChatKey {
    /// The name of the chat's turn lock (see `ChatLocks`).
    pub fn lock_name(&self) -> String {
        format!(
            "{}|{}|{}|{}",
            self.provider, self.instance, self.clinic_id, self.chat_index
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatState {
    pub contact_id: String,
    pub session_id: String,
    pub language: Option<String>,
    pub human_until: Option<DateTime<Utc>>,
    pub last_inbound_at: Option<DateTime<Utc>>,
}

/// What is known of a chat: nothing (first contact), its contact only (first message on this
/// channel), or its open session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatLookup {
    New,
    ContactOnly { contact_id: String },
    Known(ChatState),
}

impl ChatLookup {
    pub fn state(&self) -> Option<&ChatState> {
        match self {
            ChatLookup::Known(s) => Some(s),
            _ => None,
        }
    }

    /// The contact of a chat seen before (with or without an open session).
    pub fn existing_contact_id(&self) -> Option<&str> {
        match self {
            ChatLookup::Known(s) => Some(&s.contact_id),
            ChatLookup::ContactOnly { contact_id } => Some(contact_id),
            ChatLookup::New => None,
        }
    }
}

type Lookup = Result<ChatLookup, Arc<DbError>>;

pub struct SessionCache {
    db: Db,
    map: Mutex<HashMap<ChatKey, ChatState>>,
    flights: SingleFlight<ChatKey, Lookup>,
}

impl SessionCache {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            map: Mutex::default(),
            flights: SingleFlight::default(),
        }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<ChatKey, ChatState>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The chat as known from memory, or else from one database lookup (which concurrent
    /// callers for the same chat share).
    pub async fn get(&self, key: &ChatKey) -> Lookup {
        if let Some(state) = self.map().get(key) {
            return Ok(ChatLookup::Known(state.clone()));
        }
        let (db, k) = (self.db.clone(), key.clone());
        let found = self
            .flights
            .run(key.clone(), move || async move {
                db.read(move |c| {
                    conversations::find_chat(
                        c,
                        &k.clinic_id,
                        &k.chat_index,
                        k.provider,
                        &k.instance,
                    )
                })
                .await
                .map(|found| match found {
                    None => ChatLookup::New,
                    Some(conversations::FoundChat {
                        contact_id,
                        session: None,
                    }) => ChatLookup::ContactOnly { contact_id },
                    Some(conversations::FoundChat {
                        session: Some(r), ..
                    }) => ChatLookup::Known(ChatState {
                        contact_id: r.contact_id,
                        session_id: r.session_id,
                        language: r.language,
                        human_until: r.human_until.and_then(|t| time::from_db(&t).ok()),
                        last_inbound_at: r.last_inbound_at.and_then(|t| time::from_db(&t).ok()),
                    }),
                })
                .map_err(Arc::new)
            })
            .await?;
        if let ChatLookup::Known(state) = &found {
            self.put(key.clone(), state.clone());
        }
        Ok(found)
    }

    pub fn put(&self, key: ChatKey, state: ChatState) {
        let mut map = self.map();
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(key, state);
    }

    /// Forgets everything (after changes made outside the turn path).
    pub fn clear(&self) {
        self.map().clear();
    }
}
