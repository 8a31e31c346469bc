//! Choosing QEMU's accelerator: KVM only where it is hardware-backed.
//!
//! `/dev/kvm` can be PVM (module `kvm_pvm`), a software hypervisor under which
//! guest ring-0 code is emulated ~1000x slower than native; TCG is then the
//! faster choice for a kernel that spends its time in ring 0 booting.

use std::fmt;
use std::fs::OpenOptions;
use std::path::Path;

use super::error::RunError;

/// What the user asked for with `--accel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AccelChoice {
    /// KVM if it is hardware-backed, TCG otherwise.
    Auto,
    /// KVM, even a software-backed one.
    Kvm,
    /// QEMU's portable binary translator.
    Tcg,
}

/// The accelerator actually used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accel {
    Kvm,
    Tcg,
}

impl Accel {
    /// QEMU arguments selecting this accelerator and a CPU model for it.
    pub fn qemu_args(self) -> [&'static str; 4] {
        match self {
            // `-cpu host` alone aborts under PVM; arch-capabilities is not
            // needed by the kernel, so drop it everywhere.
            Accel::Kvm => ["-accel", "kvm", "-cpu", "host,-arch-capabilities"],
            Accel::Tcg => ["-accel", "tcg", "-cpu", "max"],
        }
    }
}

impl fmt::Display for Accel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        })
    }
}

/// Facts about the host's virtualization, gathered once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostFacts {
    /// `None` if /dev/kvm opens read-write, else why not.
    pub kvm_unusable: Option<String>,
    /// The `kvm_pvm` module is loaded.
    pub pvm: bool,
    /// The CPU advertises `vmx` or `svm` (hardware virtualization).
    pub hw_virt: Option<&'static str>,
    /// The CPU says it runs under a hypervisor.
    pub nested: bool,
}

impl HostFacts {
    pub fn probe() -> HostFacts {
        let kvm_unusable = match OpenOptions::new().read(true).write(true).open("/dev/kvm") {
            Ok(_) => None,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Some("/dev/kvm does not exist".to_string())
            }
            Err(e) => Some(format!("/dev/kvm cannot be opened read-write ({e}; are you in group `kvm`?)")),
        };
        let modules = std::fs::read_to_string("/proc/modules").unwrap_or_default();
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        Self::from_texts(kvm_unusable, Path::new("/sys/module/kvm_pvm").exists(), &modules, &cpuinfo)
    }

    /// Builds the facts from the contents of /proc/modules and /proc/cpuinfo.
    pub fn from_texts(kvm_unusable: Option<String>, pvm_sysfs: bool, modules: &str, cpuinfo: &str) -> HostFacts {
        let pvm = pvm_sysfs || modules.lines().any(|l| l.split_whitespace().next() == Some("kvm_pvm"));
        let flags: Vec<&str> = cpuinfo
            .lines()
            .find(|l| l.starts_with("flags"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, f)| f.split_whitespace().collect())
            .unwrap_or_default();
        let hw_virt = ["vmx", "svm"].into_iter().find(|f| flags.contains(f));
        HostFacts { kvm_unusable, pvm, hw_virt, nested: flags.contains(&"hypervisor") }
    }
}

/// The accelerator to use and the one-line reason shown to the user.
pub fn choose(choice: AccelChoice, facts: &HostFacts) -> Result<(Accel, String), RunError> {
    const PVM: &str = "/dev/kvm is PVM, a software hypervisor: ring-0 code would run ~1000x slower";
    match choice {
        AccelChoice::Tcg => Ok((Accel::Tcg, "requested with --accel tcg".into())),
        AccelChoice::Kvm => match &facts.kvm_unusable {
            Some(why) => Err(RunError::KvmUnavailable(why.clone())),
            None if facts.pvm => Ok((Accel::Kvm, format!("requested with --accel kvm; note: {PVM}"))),
            None if facts.hw_virt.is_none() => Ok((
                Accel::Kvm,
                "requested with --accel kvm; note: the CPU shows no vmx/svm, so /dev/kvm is not hardware-backed".into(),
            )),
            None => Ok((Accel::Kvm, "requested with --accel kvm".into())),
        },
        AccelChoice::Auto => Ok(match (&facts.kvm_unusable, facts.pvm, facts.hw_virt) {
            (Some(why), _, _) => (Accel::Tcg, format!("{why}; KVM is not available")),
            (None, true, _) => (Accel::Tcg, PVM.into()),
            (None, false, None) => (
                Accel::Tcg,
                format!(
                    "/dev/kvm is not hardware-backed: the CPU shows no vmx/svm flag{}",
                    if facts.nested { " (it runs under a hypervisor)" } else { "" }
                ),
            ),
            (None, false, Some(flag)) => (Accel::Kvm, format!("/dev/kvm is hardware-backed ({flag})")),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CPU_VMX: &str = "processor\t: 0\nflags\t\t: fpu vme sse2 vmx ssse3\n";
    const CPU_PVM: &str = "processor\t: 0\nflags\t\t: fpu sse2 hypervisor ssse3\n";
    const MODULES_PVM: &str = "kvm_pvm 1234 0 - Live 0x0\nkvm 999 1 kvm_pvm, Live 0x0\n";

    #[test]
    fn auto_on_hardware_kvm() {
        let f = HostFacts::from_texts(None, false, "kvm_intel 1 0 - Live\n", CPU_VMX);
        let (a, why) = choose(AccelChoice::Auto, &f).unwrap();
        assert_eq!(a, Accel::Kvm);
        assert!(why.contains("vmx"), "{why}");
    }

    #[test]
    fn auto_on_pvm_picks_tcg_and_says_why() {
        let f = HostFacts::from_texts(None, false, MODULES_PVM, CPU_PVM);
        assert!(f.pvm && f.nested && f.hw_virt.is_none());
        let (a, why) = choose(AccelChoice::Auto, &f).unwrap();
        assert_eq!(a, Accel::Tcg);
        assert!(why.contains("PVM"), "{why}");
        // Detected from sysfs alone too.
        assert!(HostFacts::from_texts(None, true, "", CPU_PVM).pvm);
    }

    #[test]
    fn auto_without_vmx_or_without_dev_kvm() {
        let f = HostFacts::from_texts(None, false, "", CPU_PVM);
        let (a, why) = choose(AccelChoice::Auto, &f).unwrap();
        assert_eq!(a, Accel::Tcg);
        assert!(why.contains("not hardware-backed"), "{why}");
        let f = HostFacts::from_texts(Some("/dev/kvm does not exist".into()), false, "", CPU_VMX);
        assert_eq!(choose(AccelChoice::Auto, &f).unwrap().0, Accel::Tcg);
    }

    #[test]
    fn explicit_choices() {
        let pvm = HostFacts::from_texts(None, false, MODULES_PVM, CPU_PVM);
        let (a, why) = choose(AccelChoice::Kvm, &pvm).unwrap();
        assert_eq!(a, Accel::Kvm);
        assert!(why.contains("PVM"));
        assert_eq!(choose(AccelChoice::Tcg, &pvm).unwrap().0, Accel::Tcg);
        let none = HostFacts::from_texts(Some("/dev/kvm does not exist".into()), false, "", CPU_VMX);
        assert!(matches!(choose(AccelChoice::Kvm, &none), Err(RunError::KvmUnavailable(_))));
    }

    #[test]
    fn qemu_args() {
        assert_eq!(Accel::Kvm.qemu_args(), ["-accel", "kvm", "-cpu", "host,-arch-capabilities"]);
        assert_eq!(Accel::Tcg.qemu_args()[1], "tcg");
    }
}
