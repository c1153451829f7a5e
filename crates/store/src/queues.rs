//! Departments and queues.
//!
//! A queue's overflow into another queue is checked inside the writing
//! transaction against every queue of the organisation (on PostgreSQL with
//! the organisation's queue lock held), so two concurrent changes cannot
//! close a loop between them. A queue or department something still points
//! at cannot be deleted (a conflict naming what points at it).

use async_trait::async_trait;
use switchboard_domain::OrgId;
use switchboard_domain::id::{DepartmentId, QueueId};
use switchboard_domain::queues::{Department, Queue};

use crate::{Page, Result};

#[async_trait]
pub trait QueueStore: Send + Sync {
    async fn create_department(&self, d: Department) -> Result<Department>;
    async fn get_department(&self, org: &OrgId, id: &DepartmentId) -> Result<Department>;
    /// Departments in creation order.
    async fn list_departments(&self, org: &OrgId, page: Page) -> Result<(Vec<Department>, u64)>;
    async fn update_department(&self, d: Department) -> Result<Department>;
    /// Refused (`Conflict`) while a queue or an agent belongs to it.
    async fn delete_department(&self, org: &OrgId, id: &DepartmentId) -> Result<()>;

    /// Stores a new queue: its department and overflow queue must exist
    /// (`Invalid` naming `departmentId` / `overflow.target`) and its
    /// overflow must close no loop (`Invalid` naming `overflow.target`).
    async fn create_queue(&self, q: Queue) -> Result<Queue>;
    async fn get_queue(&self, org: &OrgId, id: &QueueId) -> Result<Queue>;
    /// Queues by priority (highest first), then creation order.
    async fn list_queues(&self, org: &OrgId, department: Option<&DepartmentId>, page: Page) -> Result<(Vec<Queue>, u64)>;
    /// Saves a queue, checked as in `create_queue`.
    async fn update_queue(&self, q: Queue) -> Result<Queue>;
    /// Refused (`Conflict`) while another queue overflows into it.
    async fn delete_queue(&self, org: &OrgId, id: &QueueId) -> Result<()>;
}
