//! Who is asking and where: the signed-in staff member and the request's
//! path and notice, shared by the session middleware (which sets them) and
//! the page renderer (which reads them) without either importing the other.

/// The signed-in staff member. Handlers take it as an argument; without a
/// valid session the request is redirected (303) to the login page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentUser {
    pub id: i64,
    pub email: String,
    pub csrf: String,
    /// Hex SHA-256 of the session token (to log out).
    pub session: String,
}

/// Per-request facts pages need without threading the request through.
#[derive(Debug, Clone, Default)]
pub struct RequestInfo {
    pub path: String,
    pub notice: Option<String>,
}

tokio::task_local! {
    pub(super) static REQUEST: RequestInfo;
}

/// The current request's path and `?notice=` (empty outside a request).
pub fn request_info() -> RequestInfo {
    REQUEST.try_with(Clone::clone).unwrap_or_default()
}
