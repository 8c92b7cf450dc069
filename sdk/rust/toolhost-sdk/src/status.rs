//! Status codes and the error type operations return.

use std::fmt;

use crate::abi;

/// The status codes of the C ABI (gRPC's canonical codes). Whether the host retries a failure
/// follows from its code: see `docs/plugin-abi.md#status-codes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum Status {
    /// Success.
    Ok = abi::TOOLHOST_STATUS_OK,
    /// The call was cancelled, typically by the caller or because its deadline passed.
    Cancelled = abi::TOOLHOST_STATUS_CANCELLED,
    /// An error with no better code; avoid.
    Unknown = abi::TOOLHOST_STATUS_UNKNOWN,
    /// The arguments are wrong whatever the state of the system; name the field.
    InvalidArgument = abi::TOOLHOST_STATUS_INVALID_ARGUMENT,
    /// The deadline expired before the operation could complete.
    DeadlineExceeded = abi::TOOLHOST_STATUS_DEADLINE_EXCEEDED,
    /// A requested record or entity does not exist.
    NotFound = abi::TOOLHOST_STATUS_NOT_FOUND,
    /// The entity a caller tried to create already exists.
    AlreadyExists = abi::TOOLHOST_STATUS_ALREADY_EXISTS,
    /// The caller may not do this.
    PermissionDenied = abi::TOOLHOST_STATUS_PERMISSION_DENIED,
    /// A quota or a resource ran out; retry later.
    ResourceExhausted = abi::TOOLHOST_STATUS_RESOURCE_EXHAUSTED,
    /// The system is not in a state this operation requires.
    FailedPrecondition = abi::TOOLHOST_STATUS_FAILED_PRECONDITION,
    /// A concurrency conflict; retry at a higher level.
    Aborted = abi::TOOLHOST_STATUS_ABORTED,
    /// An argument is outside the valid range.
    OutOfRange = abi::TOOLHOST_STATUS_OUT_OF_RANGE,
    /// The operation is not implemented or not supported.
    Unimplemented = abi::TOOLHOST_STATUS_UNIMPLEMENTED,
    /// A bug: an invariant broke. Not retried.
    Internal = abi::TOOLHOST_STATUS_INTERNAL,
    /// A transient failure; safe to retry if idempotent.
    Unavailable = abi::TOOLHOST_STATUS_UNAVAILABLE,
    /// Unrecoverable data loss or corruption.
    DataLoss = abi::TOOLHOST_STATUS_DATA_LOSS,
    /// The caller has no valid credentials.
    Unauthenticated = abi::TOOLHOST_STATUS_UNAUTHENTICATED,
}

impl Status {
    const ALL: [Status; 17] = [
        Status::Ok,
        Status::Cancelled,
        Status::Unknown,
        Status::InvalidArgument,
        Status::DeadlineExceeded,
        Status::NotFound,
        Status::AlreadyExists,
        Status::PermissionDenied,
        Status::ResourceExhausted,
        Status::FailedPrecondition,
        Status::Aborted,
        Status::OutOfRange,
        Status::Unimplemented,
        Status::Internal,
        Status::Unavailable,
        Status::DataLoss,
        Status::Unauthenticated,
    ];

    /// The status for a raw code; codes outside 0..=16 are `Unknown`, as the host reads them.
    pub fn from_code(code: abi::ToolhostStatus) -> Status {
        usize::try_from(code)
            .ok()
            .and_then(|i| Status::ALL.get(i).copied())
            .unwrap_or(Status::Unknown)
    }

    /// The raw code of the C ABI.
    pub fn code(self) -> abi::ToolhostStatus {
        self as abi::ToolhostStatus
    }

    /// The name the host uses for it, e.g. `"INVALID_ARGUMENT"`.
    pub fn name(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Cancelled => "CANCELLED",
            Status::Unknown => "UNKNOWN",
            Status::InvalidArgument => "INVALID_ARGUMENT",
            Status::DeadlineExceeded => "DEADLINE_EXCEEDED",
            Status::NotFound => "NOT_FOUND",
            Status::AlreadyExists => "ALREADY_EXISTS",
            Status::PermissionDenied => "PERMISSION_DENIED",
            Status::ResourceExhausted => "RESOURCE_EXHAUSTED",
            Status::FailedPrecondition => "FAILED_PRECONDITION",
            Status::Aborted => "ABORTED",
            Status::OutOfRange => "OUT_OF_RANGE",
            Status::Unimplemented => "UNIMPLEMENTED",
            Status::Internal => "INTERNAL",
            Status::Unavailable => "UNAVAILABLE",
            Status::DataLoss => "DATA_LOSS",
            Status::Unauthenticated => "UNAUTHENTICATED",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A failed operation: a status other than OK and a message for the caller. Name the field or
/// the record that was wrong in the message.
///
/// An `Error` built with [`Status::Ok`] is reported as [`Status::Internal`]: a failure must
/// never look like a success.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    status: Status,
    message: String,
}

impl Error {
    /// A failure with `status` (OK becomes INTERNAL) and `message`.
    pub fn new(status: Status, message: impl Into<String>) -> Error {
        let status = if status == Status::Ok { Status::Internal } else { status };
        Error {
            status,
            message: message.into(),
        }
    }

    /// INVALID_ARGUMENT: the arguments are wrong; name the field.
    pub fn invalid_argument(message: impl Into<String>) -> Error {
        Error::new(Status::InvalidArgument, message)
    }

    /// NOT_FOUND: a requested record does not exist.
    pub fn not_found(message: impl Into<String>) -> Error {
        Error::new(Status::NotFound, message)
    }

    /// FAILED_PRECONDITION: the system is not in the state this needs.
    pub fn failed_precondition(message: impl Into<String>) -> Error {
        Error::new(Status::FailedPrecondition, message)
    }

    /// UNAVAILABLE: a transient failure; the host may retry idempotent operations.
    pub fn unavailable(message: impl Into<String>) -> Error {
        Error::new(Status::Unavailable, message)
    }

    /// INTERNAL: a bug.
    pub fn internal(message: impl Into<String>) -> Error {
        Error::new(Status::Internal, message)
    }

    /// The status code (never OK).
    pub fn status(&self) -> Status {
        self.status
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status, self.message)
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_unknown_codes_are_unknown() {
        for code in 0..=16 {
            assert_eq!(Status::from_code(code).code(), code);
        }
        assert_eq!(Status::from_code(17), Status::Unknown);
        assert_eq!(Status::from_code(-1), Status::Unknown);
        assert_eq!(Status::InvalidArgument.name(), "INVALID_ARGUMENT");
    }

    #[test]
    fn an_error_is_never_ok() {
        let e = Error::new(Status::Ok, "oops");
        assert_eq!(e.status(), Status::Internal);
        assert_eq!(e.to_string(), "INTERNAL: oops");
    }
}
