//! Third-party GitHub Actions used by generated workflows, pinned to full
//! commit SHAs with the release they correspond to.
//!
//! A tag can be moved by whoever controls the action's repository; a commit
//! SHA cannot. Each SHA below is the commit the named release tag points to,
//! as seen pinned that way in public workflows (the GitHub workflow fixtures
//! and other public repositories that pin them). Update them together with a
//! regenerate; `bearing workflow lint` accepts any 40-hex SHA.

/// One pinned action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pin {
    /// `owner/repo[/path]`.
    pub action: &'static str,
    pub sha: &'static str,
    /// The release the SHA is tagged with.
    pub version: &'static str,
}

impl Pin {
    /// The `uses:` value.
    pub fn uses(&self) -> String {
        format!("{}@{}", self.action, self.sha)
    }
}

pub const CHECKOUT: Pin = Pin {
    action: "actions/checkout",
    sha: "3d3c42e5aac5ba805825da76410c181273ba90b1",
    version: "v7.0.1",
};
pub const UPLOAD_ARTIFACT: Pin = Pin {
    action: "actions/upload-artifact",
    sha: "043fb46d1a93c77aae656e7c1c64a875d1fc6a0a",
    version: "v7.0.1",
};
pub const DOWNLOAD_ARTIFACT: Pin = Pin {
    action: "actions/download-artifact",
    sha: "3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c",
    version: "v8.0.1",
};
pub const UPLOAD_SARIF: Pin = Pin {
    action: "github/codeql-action/upload-sarif",
    sha: "ff2f1c621b7f889edc0d3c761ac2e6a3f8cdb0dd",
    version: "v4.37.7",
};
pub const TRIVY: Pin = Pin {
    action: "aquasecurity/trivy-action",
    sha: "ed142fd0673e97e23eac54620cfb913e5ce36c25",
    version: "v0.36.0",
};
pub const GRYPE: Pin = Pin {
    action: "anchore/scan-action",
    sha: "e1165082ffb1fe366ebaf02d8526e7c4989ea9d2",
    version: "v7.4.0",
};
pub const INFRACOST: Pin = Pin {
    action: "infracost/actions/setup",
    sha: "e9d6e6cd65e168e76b0de50ff9957d2fe8bb1832",
    version: "v3.0.1",
};

pub const SETUP_TERRAFORM: Pin = Pin {
    action: "hashicorp/setup-terraform",
    sha: "b9cd54a3c349d3f38e8881555d616ced269862dd",
    version: "v3.1.2",
};

/// Every pin, for tests and docs.
pub const ALL: [Pin; 8] = [
    CHECKOUT,
    UPLOAD_ARTIFACT,
    DOWNLOAD_ARTIFACT,
    UPLOAD_SARIF,
    TRIVY,
    GRYPE,
    INFRACOST,
    SETUP_TERRAFORM,
];

/// True for a full 40-character lowercase or uppercase hex commit SHA.
pub fn is_full_sha(s: &str) -> bool {
    s.len() == 40 && s.chars().all(|c| c.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pin_is_a_full_sha() {
        for p in ALL {
            assert!(is_full_sha(p.sha), "{}", p.action);
            assert!(p.version.starts_with('v'));
        }
        assert!(!is_full_sha("v4"));
        assert!(!is_full_sha("3d3c42e"));
    }
}
