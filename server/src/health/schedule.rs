//! When each agent is due: every `interval`, at a stable offset of its own inside the
//! interval (as Prometheus spreads scrapes), so 10,000 agents every 10 s are about 1,000
//! checks a second, not 10,000 at once followed by silence. Times are milliseconds since
//! the Unix epoch, so an agent keeps its slot across restarts.

use std::time::Duration;

/// The agent's offset inside an interval: a hash of its ID (FNV-1a), stable everywhere.
pub fn offset_ms(agent_id: &str, interval: Duration) -> u64 {
    let interval = (interval.as_millis() as u64).max(1);
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in agent_id.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash % interval
}

/// The first of the agent's slots at or after `not_before` (ms since the epoch).
pub fn next_slot(agent_id: &str, interval: Duration, not_before: u64) -> u64 {
    let period = (interval.as_millis() as u64).max(1);
    let offset = offset_ms(agent_id, interval);
    // Slots are offset + k·period; the first k whose slot is ≥ not_before.
    let k = not_before.saturating_sub(offset).div_ceil(period);
    offset + k * period
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_repeat_at_the_interval_from_a_stable_offset() {
        let i = Duration::from_secs(10);
        let first = next_slot("agent-7", i, 1_000_000);
        assert!((1_000_000..1_010_000).contains(&first));
        assert_eq!(first % 10_000, offset_ms("agent-7", i));
        assert_eq!(next_slot("agent-7", i, first), first, "a slot is due at its own time");
        assert_eq!(next_slot("agent-7", i, first + 1), first + 10_000);
        assert_eq!(offset_ms("agent-7", i), offset_ms("agent-7", i), "the same across calls and processes");
    }

    #[test]
    fn offsets_spread_agents_over_the_interval() {
        // 10,000 agents over 10 s, in 100 ms bins: each bin should hold about 100.
        let i = Duration::from_secs(10);
        let mut bins = [0u32; 100];
        for n in 0..10_000 {
            bins[(offset_ms(&format!("agent-{n}"), i) / 100) as usize] += 1;
        }
        let (min, max) = (bins.iter().min().unwrap(), bins.iter().max().unwrap());
        assert!(*min > 50 && *max < 160, "bins from {min} to {max}");
    }
}
