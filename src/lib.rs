//! ogi-audit: audits Chinese government information-disclosure annual reports
//! (政府信息公开工作年度报告).
//!
//! The pipeline, one module per stage: [`extract`] (bytes → normalised text) → [`parse`] (text →
//! [`model::Report`]) → rules → store → mail, with watch and config around them. [`pipeline`] runs
//! the stages for one file; [`cli`] is the command line.

pub mod cli;
pub mod error;
pub mod extract;
pub mod model;
pub mod parse;
pub mod pipeline;
pub mod rules;
