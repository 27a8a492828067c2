//! `ferry gate`.
