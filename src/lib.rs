//! ogi-audit: audits Chinese government information-disclosure annual reports
//! (政府信息公开工作年度报告).
//!
//! The pipeline, one module per stage: [`extract`] (bytes → normalised text) → [`parse`] (text →
//! [`model::Report`]) → rules → store → mail, with watch and config around them. [`pipeline`] runs
//! the stages for one file, within its [`budget`]; [`daemon`] runs them for every file dropped into the [`watch`]ed
//! inbox and keeps the results in the [`store`]; [`config`] says where everything is; [`cli`] is
//! the command line. Beside mail, reading the store: [`present`] (findings as people see them)
//! [`workbook`] (the `.xlsx` of findings and tables) and [`web`] (the console); [`units`] (who has reported) and [`remind`] (mail to those who have not).

pub mod bench;
pub mod budget;
pub mod cli;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod error;
pub mod extract;
pub mod lockfile;
pub mod mail;
pub mod model;
pub mod parse;
pub mod pipeline;
pub mod present;
pub mod remind;
pub mod rules;
pub mod setup;
pub mod store;
pub mod systemd;
pub mod units;
pub mod watch;
pub mod web;
pub mod workbook;

/// Counts what each thread allocates, for the per-report memory budget ([`budget`]).
#[global_allocator]
static ALLOCATOR: budget::Counting = budget::Counting;
