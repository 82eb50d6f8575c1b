pub mod clock;
pub mod header;
pub mod json_tree;
pub mod run_status;
pub mod uptime;
pub mod latency_chart;
