//! Loading end to end, the API the kernel and the shell use: parse the
//! object, verify every program (mandatory), allocate the maps, prepare the
//! programs, optionally compile them with the JIT; then run them (from any
//! number of CPUs at once) and inspect their maps.

use alloc::string::String;
use alloc::vec::Vec;

use crate::helpers::{Env, LinuxHelpers};
use crate::interp::{ExecError, ExecErrorKind, Input, PrepareError, Prepared, Vm};
use crate::isa::Insn;
use crate::jit::{self, Engine, JitCode, JitError, JitOptions, JitProgram};
use crate::loader::{self, LoadError};
use crate::maps::{MapError, MapSet};
use crate::spec::ProgType;
use crate::verifier::{self, VerifierError};

/// Why an object could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Load(#[from] LoadError),
    #[error("program `{program}` (section `{section}`) rejected: {err}")]
    Rejected { program: String, section: String, err: VerifierError },
    #[error(transparent)]
    Map(#[from] MapError),
    #[error("program `{program}`: {err}")]
    Prepare { program: String, err: PrepareError },
    #[error("program `{program}`: JIT: {err}")]
    Jit { program: String, err: JitError },
}

/// A verified program, ready to run.
#[derive(Debug)]
pub struct LoadedProgram {
    pub name: String,
    pub section: String,
    pub prog_type: ProgType,
    pub insns: Vec<Insn>,
    prepared: Prepared,
    jit: Option<JitProgram>,
}

impl LoadedProgram {
    /// Whether the JIT compiled it.
    pub fn is_jitted(&self) -> bool {
        self.jit.is_some()
    }

    /// The prepared form the interpreter runs (and the JIT compiles).
    pub fn prepared(&self) -> &Prepared {
        &self.prepared
    }
}

/// An object whose programs all passed the verifier, with its live maps.
pub struct Loaded {
    pub maps: MapSet,
    pub programs: Vec<LoadedProgram>,
}

/// Parses, verifies and instantiates an object. Fails if any program is
/// rejected; use [`loader::parse`] and [`verifier::verify`] directly to see
/// every program's verdict.
pub fn load(bytes: &[u8]) -> Result<Loaded, Error> {
    let obj = loader::parse(bytes)?;
    let mut programs = Vec::with_capacity(obj.programs.len());
    for p in obj.programs {
        verifier::verify(&p.insns, p.prog_type, &obj.maps).map_err(|err| Error::Rejected { program: p.name.clone(), section: p.section.clone(), err })?;
        let prepared = Prepared::new(&p.insns, obj.maps.len()).map_err(|err| Error::Prepare { program: p.name.clone(), err })?;
        programs.push(LoadedProgram { name: p.name, section: p.section, prog_type: p.prog_type, insns: p.insns, prepared, jit: None });
    }
    Ok(Loaded { maps: MapSet::new(&obj.maps)?, programs })
}

impl Loaded {
    /// Index of the program called `name` (function name or section name).
    pub fn find(&self, name: &str) -> Option<usize> {
        self.programs.iter().position(|p| p.name == name || p.section == name)
    }

    /// Compiles every program with the JIT. `install` puts the code into
    /// executable memory: the kernel's W^X pages, or [`jit::host::install`]
    /// on the host. Programs already compiled are compiled again.
    pub fn compile_jit(&mut self, opts: &JitOptions, install: &mut dyn FnMut(&JitCode) -> Result<JitProgram, JitError>) -> Result<(), Error> {
        for p in &mut self.programs {
            let err = |err| Error::Jit { program: p.name.clone(), err };
            let code = jit::compile(&p.prepared, opts).map_err(err)?;
            p.jit = Some(install(&code).map_err(err)?);
        }
        Ok(())
    }

    /// Runs program `idx` with a read-only context and the Linux helpers
    /// over `env`: JIT-compiled code if [`Loaded::compile_jit`] made some,
    /// the interpreter otherwise. The context should be
    /// `prog_type.ctx_size()` bytes; reads past a shorter one fault. Takes
    /// `&self`: any number of runs (one [`Vm`] and one `env` each, e.g. per
    /// CPU) may go on at once, while the shell reads the maps.
    #[inline]
    pub fn run(&self, vm: &mut Vm, idx: usize, ctx: &[u8], env: &mut dyn Env) -> Result<u64, ExecError> {
        let jitted = self.programs.get(idx).is_some_and(LoadedProgram::is_jitted);
        self.run_on(if jitted { Engine::Jit } else { Engine::Interp }, vm, idx, ctx, env)
    }

    /// [`Loaded::run`] on a chosen engine; `Engine::Jit` needs
    /// [`Loaded::compile_jit`] first.
    #[inline]
    pub fn run_on(&self, engine: Engine, vm: &mut Vm, idx: usize, ctx: &[u8], env: &mut dyn Env) -> Result<u64, ExecError> {
        let Some(p) = self.programs.get(idx) else {
            return Err(ExecError { pc: 0, kind: ExecErrorKind::NoSuchProgram(idx) });
        };
        match (engine, &p.jit) {
            (Engine::Jit, Some(j)) => vm.run_jit(j, Input::ReadOnly(ctx), &self.maps, &mut LinuxHelpers { env }),
            (Engine::Interp, _) => self.run_interp(vm, p, ctx, env),
            (Engine::Jit, None) => Err(ExecError { pc: 0, kind: ExecErrorKind::NotCompiled(idx) }),
        }
    }

    /// The interpreter's side of [`Loaded::run_on`], out of line: its
    /// setup (register file, frames) would otherwise make every run on the
    /// JIT save registers and clear a frame it does not use.
    #[inline(never)]
    fn run_interp(&self, vm: &mut Vm, p: &LoadedProgram, ctx: &[u8], env: &mut dyn Env) -> Result<u64, ExecError> {
        vm.run(&p.prepared, Input::ReadOnly(ctx), &self.maps, &mut LinuxHelpers { env })
    }
}
