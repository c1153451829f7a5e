//! Core commands shared by every dialect: adapters parse their own request
//! shapes into these inputs and render the results in their own shapes;
//! the rules live here.

pub mod call_list;
pub mod calls;
pub mod dial;
pub mod redact;
