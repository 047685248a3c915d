//! Claiming the VCA duplicate key (VIN + `IviVersionNumber` + stage) atomically enough without
//! compare-and-swap, which Spin's key-value interface does not have.
//!
//! Protocol (store `claims` holds only in-flight claims, so listing it stays cheap):
//! 1. if `default` has `t/{tenant}/dup/{key}`, refuse: a duplicate of that record;
//! 2. write our claim `{tenant}/{key}/{record}` to `claims`;
//! 3. list `claims`: if another record claims the same key, withdraw ours and refuse
//!    ("concurrent submission"): both may refuse, never both pass;
//! 4. look at `dup/{key}` again (a winner may have finished between 1 and 2); if free, write it
//!    with our record id, and remove our claim.
//!
//! Two winners would need each one's listing (3) to miss the other's claim (2), which a linearizable
//! store (Spin's SQLite store, one Redis) rules out: each `set` is visible to every later `get`.

use crate::kv::{KeyValue, Stores};
use crate::{Error, Result, keys};

/// How long a claim or key holder that is a time-ordered id keeps counting when nothing else says
/// it is alive: a duplicate key held by a record that does not exist (an admission in flight, or
/// one that crashed between claiming the key and writing the record), a digest marker, the sweep
/// lock of a sweep killed mid-run.
pub const STALE_CLAIM_MS: u64 = 30_000;

/// The holder of a duplicate key, if any.
pub fn holder<K: KeyValue>(stores: &Stores<K>, tenant: &str, key: &str) -> Result<Option<String>> {
    Ok(stores
        .data
        .get(&keys::duplicate_holder(tenant, key))?
        .map(|v| String::from_utf8_lossy(&v).into_owned()))
}

fn duplicate(key: &str, existing: String) -> Error {
    let (vin, version, stage) = keys::split_duplicate_key(key);
    let to = keys::split_destination(key)
        .map(|d| format!(" for destination {d}"))
        .unwrap_or_default();
    Error::Duplicate {
        message: if existing.is_empty() {
            format!(
                "VIN {vin} with IviVersionNumber {version} at stage {stage}{to} is being submitted by a concurrent request"
            )
        } else {
            format!(
                "VIN {vin} with IviVersionNumber {version} at stage {stage}{to} was already submitted as {existing}: a correction must bump IviVersionNumber"
            )
        },
        existing,
    }
}

/// The refusal of a key claimed by an admission still in flight: "being submitted by a concurrent
/// request", which tells the sender to try again, never "already submitted" (that admission may
/// yet fail, and a sender told "already submitted" would never send the record again).
pub fn in_flight(key: &str) -> Error {
    duplicate(key, String::new())
}

/// Claims `key` for `id` (a record, a run), or says who holds it. Holders and claims count as long
/// as their id is younger than [`STALE_CLAIM_MS`] when it is time-ordered
/// ([`crate::ids::record_id`]), forever otherwise.
pub fn claim<K: KeyValue>(
    stores: &Stores<K>,
    tenant: &str,
    key: &str,
    record_id: &str,
) -> Result<()> {
    let now = crate::clock::now_millis();
    claim_with(stores, tenant, key, record_id, &|id| Ok(young(id, now)))
}

/// Whether a time-ordered id ([`crate::ids::record_id`]) is younger than
/// [`STALE_CLAIM_MS`] at `now_millis`; ids of other shapes always are.
pub fn young(id: &str, now_millis: u64) -> bool {
    if !crate::ids::is_record_id(id) {
        return true;
    }
    let born = id
        .get(1..13)
        .and_then(|hex| u64::from_str_radix(hex, 16).ok())
        .unwrap_or(0);
    now_millis.saturating_sub(born) < STALE_CLAIM_MS
}

/// Claims `key` for `record_id`, where `live(holder)` says whether a holder still counts: a holder
/// written by an admission that crashed before creating its record does not (see
/// [`crate::validate::admit`]), and is taken over.
pub fn claim_with<K: KeyValue>(
    stores: &Stores<K>,
    tenant: &str,
    key: &str,
    record_id: &str,
    live: &dyn Fn(&str) -> Result<bool>,
) -> Result<()> {
    let current = || -> Result<Option<String>> {
        match holder(stores, tenant, key)? {
            Some(h) if live(&h)? => Ok(Some(h)),
            _ => Ok(None),
        }
    };
    if let Some(existing) = current()? {
        return Err(duplicate(key, existing));
    }
    let prefix = keys::claim_prefix(tenant, key);
    let mine = keys::claim(tenant, key, record_id);
    stores.claims.set(&mine, b"")?;
    // Another live claim on the key contests ours; one left by a process killed mid-claim is not
    // live (`live` says so) and is removed.
    let mut contested = false;
    for other in stores.claims.get_keys()? {
        let Some(id) = other.strip_prefix(&prefix) else {
            continue;
        };
        if other == mine {
            continue;
        }
        if live(id)? {
            contested = true;
        } else {
            stores.claims.delete(&other)?;
        }
    }
    if contested {
        stores.claims.delete(&mine)?;
        return Err(duplicate(key, String::new()));
    }
    if let Some(existing) = current()? {
        stores.claims.delete(&mine)?;
        return Err(duplicate(key, existing));
    }
    stores
        .data
        .set(&keys::duplicate_holder(tenant, key), record_id.as_bytes())?;
    stores.claims.delete(&mine)
}

/// Makes the hold of `record_id` on `key` permanent: the key is held by `done:{record_id}`, which
/// no clock makes stale (a digest once sent stays sent, whenever the next call comes). Does
/// nothing when another holds the key.
pub fn keep<K: KeyValue>(
    stores: &Stores<K>,
    tenant: &str,
    key: &str,
    record_id: &str,
) -> Result<()> {
    if holder(stores, tenant, key)?.as_deref() == Some(record_id) {
        stores.data.set(
            &keys::duplicate_holder(tenant, key),
            format!("done:{record_id}").as_bytes(),
        )?;
    }
    Ok(())
}

/// Runs `work` holding `lock` (an owner and claim key, such as [`keys::SWEEP_LOCK`]) under a
/// fresh run id; `None`, without running it, when another run holds the lock.
pub fn locked<K: KeyValue, T>(
    stores: &Stores<K>,
    (owner, lock): (&str, &str),
    work: impl FnOnce(&Stores<K>) -> Result<T>,
) -> Result<Option<T>> {
    let run_id = crate::ids::record_id(crate::clock::now_millis())?;
    match claim(stores, owner, lock, &run_id) {
        Ok(()) => {}
        Err(Error::Duplicate { .. }) => return Ok(None),
        Err(e) => return Err(e),
    }
    let done = work(stores);
    release(stores, owner, lock, &run_id)?;
    done.map(Some)
}

/// Frees a key held by `record_id` (used when creating the record failed after the claim).
pub fn release<K: KeyValue>(
    stores: &Stores<K>,
    tenant: &str,
    key: &str,
    record_id: &str,
) -> Result<()> {
    if holder(stores, tenant, key)?.as_deref() == Some(record_id) {
        stores.data.delete(&keys::duplicate_holder(tenant, key))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use std::sync::{Arc, Barrier};

    #[test]
    fn one_winner_among_concurrent_claims() {
        for round in 0..50 {
            let stores = Arc::new(Stores::in_memory());
            let barrier = Arc::new(Barrier::new(8));
            let handles: Vec<_> = (0..8)
                .map(|i| {
                    let (stores, barrier) = (stores.clone(), barrier.clone());
                    std::thread::spawn(move || {
                        let id = format!("r{round}-{i}");
                        barrier.wait();
                        claim(&stores, "acme", "VIN/1/1", &id).is_ok().then_some(id)
                    })
                })
                .collect();
            let winners: Vec<String> = handles
                .into_iter()
                .filter_map(|h| h.join().unwrap())
                .collect();
            assert!(winners.len() <= 1, "round {round}: two winners {winners:?}");
            assert_eq!(
                holder(&stores, "acme", "VIN/1/1").unwrap(),
                winners.first().cloned()
            );
            assert!(stores.claims.is_empty());
        }
    }

    #[test]
    fn a_claim_left_by_a_killed_process_does_not_block_the_key() {
        let stores = Stores::in_memory();
        let old = crate::ids::record_id(crate::clock::now_millis() - 120_000).unwrap();
        stores
            .claims
            .set(&format!("acme/VIN/1/1/{old}"), b"")
            .unwrap();
        let fresh = crate::ids::record_id(crate::clock::now_millis()).unwrap();
        claim(&stores, "acme", "VIN/1/1", &fresh).unwrap();
        assert!(stores.claims.is_empty(), "the stale claim was removed");
        let young_one = crate::ids::record_id(crate::clock::now_millis()).unwrap();
        stores
            .claims
            .set(&format!("acme/VIN/2/1/{young_one}"), b"")
            .unwrap();
        assert!(
            claim(&stores, "acme", "VIN/2/1", "r-other").is_err(),
            "a live claim still contests"
        );
    }

    #[test]
    fn a_dead_holder_is_taken_over() {
        let stores = Stores::in_memory();
        claim(&stores, "acme", "VIN/1/1", "r-crashed").unwrap();
        let dead = |_: &str| Ok(false);
        claim_with(&stores, "acme", "VIN/1/1", "r-new", &dead).unwrap();
        assert_eq!(
            holder(&stores, "acme", "VIN/1/1").unwrap().as_deref(),
            Some("r-new")
        );
    }

    #[test]
    fn sequential_duplicates_and_corrections() {
        let stores = Stores::in_memory();
        claim(&stores, "acme", "VIN/1/1", "r1").unwrap();
        let again = claim(&stores, "acme", "VIN/1/1", "r2").unwrap_err();
        assert!(matches!(&again, Error::Duplicate { existing, .. } if existing == "r1"));
        claim(&stores, "acme", "VIN/2/1", "r3").unwrap();
        claim(&stores, "other", "VIN/1/1", "r4").unwrap();
        assert!(
            stores.claims.is_empty(),
            "claims are withdrawn once settled"
        );
        release(&stores, "acme", "VIN/1/1", "r1").unwrap();
        claim(&stores, "acme", "VIN/1/1", "r5").unwrap();
    }
}
