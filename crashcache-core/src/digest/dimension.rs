//! The dimensions: repetitive strings (a release, an SDK and its version, …) stored once each
//! in a table `crashcache.dim_<name>` of `(id, name, version)` and referred to by id.
//!
//! This is the one list of them: rows name a [`Dimension`] with each value, the worker
//! resolves the values to ids (`crashcache._dimension_ids`), and the schema has one table per
//! variant. Adding a dimension is a variant here, its table in the schema and a migration.

/// One dimension table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dimension {
    Release,
    Environment,
    Platform,
    Os,
    Runtime,
    Browser,
    Device,
    Sdk,
    ServerName,
    ExceptionType,
    Transaction,
    Logger,
}

impl Dimension {
    pub const ALL: [Dimension; 12] = [
        Dimension::Release,
        Dimension::Environment,
        Dimension::Platform,
        Dimension::Os,
        Dimension::Runtime,
        Dimension::Browser,
        Dimension::Device,
        Dimension::Sdk,
        Dimension::ServerName,
        Dimension::ExceptionType,
        Dimension::Transaction,
        Dimension::Logger,
    ];

    /// Its table in schema `crashcache`.
    pub fn table(self) -> &'static str {
        match self {
            Dimension::Release => "dim_release",
            Dimension::Environment => "dim_environment",
            Dimension::Platform => "dim_platform",
            Dimension::Os => "dim_os",
            Dimension::Runtime => "dim_runtime",
            Dimension::Browser => "dim_browser",
            Dimension::Device => "dim_device",
            Dimension::Sdk => "dim_sdk",
            Dimension::ServerName => "dim_server_name",
            Dimension::ExceptionType => "dim_exception_type",
            Dimension::Transaction => "dim_transaction",
            Dimension::Logger => "dim_logger",
        }
    }
}

/// One value of one dimension; `version` is empty for the dimensions without versions.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DimensionValue {
    pub dimension: Dimension,
    pub name: String,
    pub version: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dimension_has_its_own_table() {
        let mut tables: Vec<_> = Dimension::ALL.iter().map(|d| d.table()).collect();
        tables.sort_unstable();
        tables.dedup();
        assert_eq!(tables.len(), Dimension::ALL.len());
        assert!(tables.iter().all(|t| t.starts_with("dim_")));
    }
}
