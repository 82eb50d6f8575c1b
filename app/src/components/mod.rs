pub mod clock;
pub mod header;
pub mod json_tree;
pub mod latency_chart;
pub mod run_status;
pub mod uptime;
pub mod url_text;
