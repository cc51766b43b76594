//! The seccomp filter: system calls a build or a hook has no business making fail with
//! `EPERM`; everything else is allowed.

use std::collections::BTreeMap;

use nix::libc;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

/// Refused outright: mounting, tracing other processes, loading kernels and modules, keyrings,
/// BPF, entering or making namespaces, swap, rebooting, the clock, performance counters.
const REFUSED: &[i64] = &[
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_pivot_root,
    libc::SYS_chroot,
    libc::SYS_fsopen,
    libc::SYS_fsconfig,
    libc::SYS_fsmount,
    libc::SYS_fspick,
    libc::SYS_move_mount,
    libc::SYS_open_tree,
    libc::SYS_mount_setattr,
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_kexec_load,
    libc::SYS_kexec_file_load,
    libc::SYS_init_module,
    libc::SYS_finit_module,
    libc::SYS_delete_module,
    libc::SYS_keyctl,
    libc::SYS_add_key,
    libc::SYS_request_key,
    libc::SYS_bpf,
    libc::SYS_unshare,
    libc::SYS_setns,
    libc::SYS_swapon,
    libc::SYS_swapoff,
    libc::SYS_reboot,
    libc::SYS_perf_event_open,
    libc::SYS_open_by_handle_at,
    libc::SYS_name_to_handle_at,
    libc::SYS_userfaultfd,
    libc::SYS_acct,
    libc::SYS_settimeofday,
    libc::SYS_clock_settime,
    libc::SYS_clock_adjtime,
    libc::SYS_adjtimex,
    libc::SYS_quotactl,
    libc::SYS_syslog,
    libc::SYS_vhangup,
    libc::SYS_lookup_dcookie,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_iopl,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_ioperm,
];

/// `clone` flags that make namespaces.
const NAMESPACE_FLAGS: &[u64] = &[
    libc::CLONE_NEWUSER as u64,
    libc::CLONE_NEWNS as u64,
    libc::CLONE_NEWPID as u64,
    libc::CLONE_NEWNET as u64,
    libc::CLONE_NEWIPC as u64,
    libc::CLONE_NEWUTS as u64,
    libc::CLONE_NEWCGROUP as u64,
    libc::CLONE_NEWTIME as u64,
];

fn architecture() -> Result<TargetArch, seccompiler::Error> {
    Ok(std::env::consts::ARCH.try_into()?)
}

/// The filter refusing [`REFUSED`], `clone` with namespace flags and the terminal `ioctl`s
/// that inject input.
fn refusals() -> Result<BpfProgram, seccompiler::Error> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> =
        REFUSED.iter().map(|&call| (call, Vec::new())).collect();
    let clone_rules = NAMESPACE_FLAGS
        .iter()
        .map(|&flag| {
            let condition = SeccompCondition::new(
                0,
                SeccompCmpArgLen::Qword,
                SeccompCmpOp::MaskedEq(flag),
                flag,
            )?;
            Ok(SeccompRule::new(vec![condition])?)
        })
        .collect::<Result<Vec<_>, seccompiler::Error>>()?;
    rules.insert(libc::SYS_clone, clone_rules);
    // Pushing keystrokes into a terminal (TIOCSTI) or driving a virtual console (TIOCLINUX,
    // which can paste its selection as input) would type commands into the caller's shell,
    // outside the sandbox. The kernel reads the request as 32 bits.
    // `Ioctl` is `c_ulong` with glibc and `c_int` with musl.
    #[allow(clippy::unnecessary_cast)]
    let terminal_rules = [libc::TIOCSTI, libc::TIOCLINUX]
        .into_iter()
        .map(|request| {
            let condition = SeccompCondition::new(
                1,
                SeccompCmpArgLen::Dword,
                SeccompCmpOp::Eq,
                request as u64,
            )?;
            Ok(SeccompRule::new(vec![condition])?)
        })
        .collect::<Result<Vec<_>, seccompiler::Error>>()?;
    rules.insert(libc::SYS_ioctl, terminal_rules);
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        architecture()?,
    )?;
    Ok(filter.try_into()?)
}

/// `clone3` passes its flags in memory a filter cannot read: answering ENOSYS (as a kernel
/// without it would) makes the C library fall back to `clone`, whose flags the filter checks.
fn no_clone3() -> Result<BpfProgram, seccompiler::Error> {
    let filter = SeccompFilter::new(
        BTreeMap::from([(libc::SYS_clone3, Vec::new())]),
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        architecture()?,
    )?;
    Ok(filter.try_into()?)
}

/// Installs both filters on this process (and, through `execve`, its children).
pub(super) fn apply() -> Result<(), seccompiler::Error> {
    seccompiler::apply_filter(&no_clone3()?)?;
    seccompiler::apply_filter(&refusals()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filters_compile_for_this_machine() {
        assert!(!refusals().unwrap().is_empty());
        assert!(!no_clone3().unwrap().is_empty());
    }
}
