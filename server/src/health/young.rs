//! Counts the checks in flight that started less than `YOUNG_FOR` ago.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::Notify;

#[derive(Default)]
pub struct Young {
    count: AtomicUsize,
    aged: Notify,
}

impl Young {
    pub fn count(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    /// Resolves when a young check answers late (turns old).
    pub async fn aged(&self) {
        self.aged.notified().await
    }

    /// Counts a check as young from now, before its task first runs (the monitor
    /// decides how many to start from the count).
    pub fn start(&self) {
        self.count.fetch_add(1, Ordering::AcqRel);
    }

    /// Runs a `start`ed check, counted young until it answers or `YOUNG_FOR` passes.
    pub async fn watch<T>(&self, check: impl Future<Output = T>) -> T {
        tokio::pin!(check);
        let answered = tokio::select! {
            out = &mut check => Some(out),
            _ = tokio::time::sleep(super::YOUNG_FOR) => None,
        };
        self.count.fetch_sub(1, Ordering::AcqRel);
        match answered {
            // Its completion wakes the monitor by itself.
            Some(out) => out,
            None => {
                self.aged.notify_one();
                check.await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_check_is_young_until_it_answers_or_waits_too_long() {
        let young = std::sync::Arc::new(Young::default());
        young.start();
        young.start();
        assert_eq!(young.count(), 2, "counted when started, before the task runs");
        young.watch(async {}).await;
        assert_eq!(young.count(), 1, "answered");
        let y = young.clone();
        let slow = tokio::spawn(async move { y.watch(tokio::time::sleep(Duration::from_millis(400))).await });
        tokio::time::timeout(Duration::from_secs(1), young.aged()).await.expect("told when it turned old");
        assert_eq!(young.count(), 0, "old after YOUNG_FOR, still waiting");
        slow.await.unwrap();
        assert_eq!(young.count(), 0);
    }
}
