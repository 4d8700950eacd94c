// SPDX-License-Identifier: GPL-2.0

//! Driver names, validated once and hashed once.

use crate::api::abi;
use kernel::{c_str, prelude::*, str::CStr};

/// A validated driver name: 1 to [`abi::NAME_MAX`] printable ASCII characters, no `/`
/// (it names a sysfs directory) and not `.` or `..`. It carries its hash, computed once,
/// so that index lookups on a name made in advance (the benchmark's) do not hash again.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Name {
    buf: [u8; abi::NAME_MAX + 1],
    len: usize,
    hash: u32,
}

impl Name {
    /// Sorts before every valid name (for range searches); not a valid name itself.
    pub const MIN: Self = Self {
        buf: [0; abi::NAME_MAX + 1],
        len: 0,
        hash: 0,
    };

    /// Validates `bytes`, failing with `EINVAL`.
    pub fn new(bytes: &[u8]) -> Result<Self> {
        if bytes.is_empty() || bytes.len() > abi::NAME_MAX {
            return Err(EINVAL);
        }
        if !bytes.iter().all(|&c| c.is_ascii_graphic() && c != b'/') {
            return Err(EINVAL);
        }
        // `.` and `..` cannot name a directory.
        if bytes == b"." || bytes == b".." {
            return Err(EINVAL);
        }
        let mut buf = [0u8; abi::NAME_MAX + 1];
        buf[..bytes.len()].copy_from_slice(bytes);
        Ok(Self {
            buf,
            len: bytes.len(),
            hash: fnv1a(bytes),
        })
    }

    /// The name without NUL.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// The name as a C string.
    pub fn as_cstr(&self) -> &CStr {
        // The buffer is zero-filled past `len` and `len <= NAME_MAX`, and `new` rejects
        // NUL bytes, so exactly one NUL ends the name.
        CStr::from_bytes_with_nul(&self.buf[..=self.len]).unwrap_or(c_str!(""))
    }

    /// The name's hash (32-bit FNV-1a), for the lockless index.
    pub fn hash(&self) -> u32 {
        self.hash
    }
}

/// 32-bit FNV-1a: short keys, no secret needed (names are chosen by root-loaded modules).
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// KUnit (7.x kernels built with `CONFIG_KUNIT`): what a name may be, and its hash.
#[cfg(drvreg_kernel_7)]
#[kunit_tests(drvreg_name)]
mod tests {
    use super::{abi, Name};
    use kernel::prelude::*;

    #[test]
    fn accepts_valid_names() -> Result {
        let longest = [b'x'; abi::NAME_MAX];
        for ok in [
            &b"a"[..],
            b"sample0",
            b"drv-1_x.y",
            b"...",
            b"~!@#$%^&*()",
            &longest,
        ] {
            let name = Name::new(ok)?;
            assert!(name.as_bytes() == ok);
            assert!(name.as_cstr().to_bytes() == ok);
            assert!(Name::MIN < name);
        }
        Ok(())
    }

    #[test]
    fn rejects_invalid_names() {
        let too_long = [b'x'; abi::NAME_MAX + 1];
        for bad in [
            &b""[..],
            &too_long,
            b".",
            b"..",
            b"a/b",
            b"/",
            b"a b",
            b"a\n",
            b"a\0b",
            b"\x7f",
            b"caf\xc3\xa9",
        ] {
            assert!(Name::new(bad).err() == Some(EINVAL));
        }
    }

    #[test]
    fn hash_is_fnv1a() -> Result {
        // The FNV-1a 32-bit test vectors of the algorithm's reference.
        assert_eq!(Name::new(b"a")?.hash(), 0xe40c_292c);
        assert_eq!(Name::new(b"foobar")?.hash(), 0xbf9c_f968);
        assert!(Name::new(b"sample0")? == Name::new(b"sample0")?);
        assert!(Name::new(b"sample0")?.hash() != Name::new(b"sample1")?.hash());
        Ok(())
    }
}
