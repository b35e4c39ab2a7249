//! libpcap, loaded with dlopen(3) when `rtt` runs, not linked: libpcap pulls in libdbus,
//! libsystemd, libgcrypt and more, which would cost every other mode ~1.8 MB of resident memory
//! and a hard dependency. Only the few calls `rtt` makes are bound; libpcap itself still does the
//! capture, reads the files and compiles the filters.

use std::ffi::{CStr, CString, c_char, c_int, c_uint, c_void};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::Duration;

/// struct pcap_pkthdr.
#[repr(C)]
pub struct PktHdr {
    pub ts: libc::timeval,
    pub caplen: u32,
    pub len: u32,
}

/// struct bpf_program.
#[repr(C)]
struct BpfProgram {
    len: c_uint,
    insns: *mut c_void,
}

const ERRBUF: usize = 256;
const TSTAMP_PRECISION_MICRO: c_int = 0;
const TSTAMP_PRECISION_NANO: c_int = 1;
/// PCAP_ERROR_TSTAMP_PRECISION_NOTSUP.
#[cfg(test)]
const ERROR_TSTAMP_PRECISION_NOTSUP: c_int = -12;
const ERROR_NO_SUCH_DEVICE: c_int = -5;
const ERROR_PERM_DENIED: c_int = -8;
/// The sonames libpcap has shipped under (Debian: libpcap0.8 / libpcap0.8t64).
const SONAMES: [&CStr; 3] = [c"libpcap.so.0.8", c"libpcap.so.1", c"libpcap.so"];

type Pcap = *mut c_void;

struct Lib {
    create: unsafe extern "C" fn(*const c_char, *mut c_char) -> Pcap,
    set_snaplen: unsafe extern "C" fn(Pcap, c_int) -> c_int,
    set_immediate_mode: unsafe extern "C" fn(Pcap, c_int) -> c_int,
    set_buffer_size: unsafe extern "C" fn(Pcap, c_int) -> c_int,
    set_tstamp_precision: unsafe extern "C" fn(Pcap, c_int) -> c_int,
    get_tstamp_precision: unsafe extern "C" fn(Pcap) -> c_int,
    activate: unsafe extern "C" fn(Pcap) -> c_int,
    open_offline: unsafe extern "C" fn(*const c_char, c_uint, *mut c_char) -> Pcap,
    datalink: unsafe extern "C" fn(Pcap) -> c_int,
    compile: unsafe extern "C" fn(Pcap, *mut BpfProgram, *const c_char, c_int, u32) -> c_int,
    setfilter: unsafe extern "C" fn(Pcap, *mut BpfProgram) -> c_int,
    freecode: unsafe extern "C" fn(*mut BpfProgram),
    setnonblock: unsafe extern "C" fn(Pcap, c_int, *mut c_char) -> c_int,
    get_selectable_fd: unsafe extern "C" fn(Pcap) -> c_int,
    next_ex: unsafe extern "C" fn(Pcap, *mut *mut PktHdr, *mut *const u8) -> c_int,
    geterr: unsafe extern "C" fn(Pcap) -> *const c_char,
    statustostr: unsafe extern "C" fn(c_int) -> *const c_char,
    close: unsafe extern "C" fn(Pcap),
}

/// Loads libpcap once per process.
fn lib() -> Result<&'static Lib, String> {
    static LIB: OnceLock<Result<Lib, String>> = OnceLock::new();
    LIB.get_or_init(load).as_ref().map_err(Clone::clone)
}

fn load() -> Result<Lib, String> {
    // SAFETY: dlopen with a valid NUL-terminated name; the handle is kept for the process's life.
    let handle = SONAMES
        .iter()
        .map(|name| unsafe { libc::dlopen(name.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) })
        .find(|h| !h.is_null())
        .ok_or_else(|| {
            "cannot load libpcap (libpcap.so.0.8), which `rtt` needs: install it \
             (Debian/Ubuntu: apt-get install libpcap0.8)"
                .to_string()
        })?;
    macro_rules! sym {
        ($name:literal) => {{
            // SAFETY: the symbol is looked up in the handle just opened; its C type is the one
            // pcap.h declares, which the field it is transmuted into spells out.
            let p = unsafe { libc::dlsym(handle, concat!($name, "\0").as_ptr().cast()) };
            if p.is_null() {
                return Err(format!("the libpcap found lacks {} (too old?)", $name));
            }
            // The target type is the field's, spelled out in `Lib`.
            #[allow(clippy::missing_transmute_annotations)]
            unsafe {
                std::mem::transmute::<*mut c_void, _>(p)
            }
        }};
    }
    Ok(Lib {
        create: sym!("pcap_create"),
        set_snaplen: sym!("pcap_set_snaplen"),
        set_immediate_mode: sym!("pcap_set_immediate_mode"),
        set_buffer_size: sym!("pcap_set_buffer_size"),
        set_tstamp_precision: sym!("pcap_set_tstamp_precision"),
        get_tstamp_precision: sym!("pcap_get_tstamp_precision"),
        activate: sym!("pcap_activate"),
        open_offline: sym!("pcap_open_offline_with_tstamp_precision"),
        datalink: sym!("pcap_datalink"),
        compile: sym!("pcap_compile"),
        setfilter: sym!("pcap_setfilter"),
        freecode: sym!("pcap_freecode"),
        setnonblock: sym!("pcap_setnonblock"),
        get_selectable_fd: sym!("pcap_get_selectable_fd"),
        next_ex: sym!("pcap_next_ex"),
        geterr: sym!("pcap_geterr"),
        statustostr: sym!("pcap_statustostr"),
        close: sym!("pcap_close"),
    })
}

/// Why opening a live capture failed.
#[derive(Debug)]
pub enum OpenError {
    PermissionDenied(String),
    NoSuchDevice(String),
    Other(String),
}

/// What one read gave.
pub enum Read<'a> {
    Packet(&'a PktHdr, &'a [u8]),
    /// Nothing available now (non-blocking live capture).
    None,
    /// The end of a file.
    End,
}

/// Why a filter was not installed.
#[derive(Debug)]
pub enum FilterError {
    /// A stop signal came while libpcap was still compiling it.
    Stopped,
    /// libpcap's message.
    Bad(String),
}

/// An open capture handle.
pub struct Handle {
    lib: &'static Lib,
    p: Pcap,
    /// Nanoseconds per tick of the packet headers' `tv_usec`: 1 with nanosecond timestamps,
    /// 1000 with microseconds (the precision libpcap says is in use).
    ns_per_tick: i64,
}

/// A pcap_t or a compiled program sent to the compiling thread and back. The handle is used by
/// one thread at a time: the caller waits while the worker compiles.
struct SendPtr<T>(T);
// SAFETY: see above; libpcap's pcap_compile is reentrant (1.8 and later) and the handle is not
// touched by the waiting thread until the worker has answered (or ever, if it is abandoned).
unsafe impl<T> Send for SendPtr<T> {}

impl<T> SendPtr<T> {
    /// By value, so that a closure captures the whole wrapper, not its non-Send field.
    fn into_inner(self) -> T {
        self.0
    }
}

// SAFETY (for every `unsafe` call below): `self.p` is a live pcap_t owned by this Handle (closed
// only in Drop), libpcap's functions are called with the argument types pcap.h declares, and the
// error buffers are ERRBUF bytes as libpcap requires.
impl Handle {
    /// A live capture on `iface`: immediate mode, nanosecond timestamps, non-blocking.
    pub fn live(iface: &str, snaplen: i32, buffer: i32) -> Result<Handle, OpenError> {
        let lib = lib().map_err(OpenError::Other)?;
        let name = CString::new(iface).map_err(|_| OpenError::NoSuchDevice(iface.into()))?;
        let mut err = [0 as c_char; ERRBUF];
        let p = unsafe { (lib.create)(name.as_ptr(), err.as_mut_ptr()) };
        if p.is_null() {
            return Err(OpenError::Other(text(&err)));
        }
        let mut h = Handle {
            lib,
            p,
            ns_per_tick: 1000,
        };
        // Nanoseconds if the device can; refused (PCAP_ERROR_TSTAMP_PRECISION_NOTSUP), the
        // headers carry microseconds.
        let requested = unsafe {
            (lib.set_snaplen)(p, snaplen);
            (lib.set_immediate_mode)(p, 1);
            (lib.set_buffer_size)(p, buffer);
            (lib.set_tstamp_precision)(p, TSTAMP_PRECISION_NANO)
        };
        let rc = unsafe { (lib.activate)(p) };
        if rc < 0 {
            let why = h.error(rc);
            return Err(match rc {
                ERROR_PERM_DENIED => OpenError::PermissionDenied(why),
                ERROR_NO_SUCH_DEVICE => OpenError::NoSuchDevice(why),
                _ => OpenError::Other(why),
            });
        }
        h.ns_per_tick = ns_per_tick(requested, unsafe { (lib.get_tstamp_precision)(p) });
        let rc = unsafe { (lib.setnonblock)(p, 1, err.as_mut_ptr()) };
        if rc < 0 {
            return Err(OpenError::Other(text(&err)));
        }
        Ok(h)
    }

    /// A capture file (pcap or pcapng; `-` is standard input), timestamps in nanoseconds.
    pub fn file(path: &str) -> Result<Handle, String> {
        let lib = lib()?;
        let name = CString::new(path).map_err(|_| "a path with a NUL byte".to_string())?;
        let mut err = [0 as c_char; ERRBUF];
        let p = unsafe {
            (lib.open_offline)(
                name.as_ptr(),
                TSTAMP_PRECISION_NANO as c_uint,
                err.as_mut_ptr(),
            )
        };
        if p.is_null() {
            return Err(text(&err));
        }
        // libpcap scales a microsecond file's times to the precision asked for; what it reports
        // in use decides all the same.
        let ns_per_tick = ns_per_tick(0, unsafe { (lib.get_tstamp_precision)(p) });
        Ok(Handle {
            lib,
            p,
            ns_per_tick,
        })
    }

    /// Nanoseconds per tick of `tv_usec` in the packet headers.
    pub fn ns_per_tick(&self) -> i64 {
        self.ns_per_tick
    }

    /// The link type (LINKTYPE_*/DLT_* number).
    pub fn datalink(&self) -> i32 {
        unsafe { (self.lib.datalink)(self.p) }
    }

    /// Compiles `filter` (tcpdump's syntax) and installs it: in the kernel for a live capture.
    ///
    /// libpcap's optimiser takes minutes on a huge filter and cannot be interrupted, so it
    /// compiles on a worker thread while this one checks `stopped` every 10 ms. On a stop the
    /// handle is abandoned to the worker — never closed, since the worker may still be inside
    /// pcap_compile with it — and the process is expected to end soon.
    pub fn set_filter(
        self,
        filter: &str,
        stopped: impl Fn() -> bool,
    ) -> Result<Handle, FilterError> {
        let f = CString::new(filter)
            .map_err(|_| FilterError::Bad("a filter with a NUL byte".to_string()))?;
        let (lib, p) = (self.lib, SendPtr(self.p));
        let (tx, rx) = mpsc::channel();
        let worker = std::thread::Builder::new()
            .name("rtt-filter".into())
            // The compiler recurses over the expression: the main thread's usual 8 MiB and more.
            .stack_size(32 << 20)
            .spawn(move || {
                let p = p.into_inner();
                let mut prog = BpfProgram {
                    len: 0,
                    insns: std::ptr::null_mut(),
                };
                // PCAP_NETMASK_UNKNOWN: broadcast tests are not supported, which tcpdump also
                // accepts.
                let rc = unsafe { (lib.compile)(p, &mut prog, f.as_ptr(), 1, 0xffff_ffff) };
                let answer = if rc < 0 {
                    Err(error(lib, p, rc))
                } else {
                    Ok(SendPtr(prog))
                };
                let _ = tx.send(answer);
            })
            .map_err(|e| FilterError::Bad(format!("cannot start the filter compiler: {e}")))?;
        let answer = loop {
            match rx.recv_timeout(Duration::from_millis(10)) {
                Ok(answer) => break answer,
                Err(mpsc::RecvTimeoutError::Timeout) if stopped() => {
                    // The worker may still use the handle: leak it rather than close it.
                    std::mem::forget(self);
                    return Err(FilterError::Stopped);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    break Err("the filter compiler ended without an answer".to_string());
                }
            }
        };
        // It has answered: it no longer touches the handle.
        let _ = worker.join();
        let mut prog = answer.map_err(FilterError::Bad)?.into_inner();
        let rc = unsafe { (self.lib.setfilter)(self.p, &mut prog) };
        unsafe { (self.lib.freecode)(&mut prog) };
        if rc < 0 {
            return Err(FilterError::Bad(self.error(rc)));
        }
        Ok(self)
    }

    /// The descriptor to poll(2) on for a live capture.
    pub fn fd(&self) -> i32 {
        unsafe { (self.lib.get_selectable_fd)(self.p) }
    }

    /// The next packet; the data stays valid until the next call.
    pub fn next(&mut self) -> Result<Read<'_>, String> {
        let mut hdr: *mut PktHdr = std::ptr::null_mut();
        let mut data: *const u8 = std::ptr::null();
        let rc = unsafe { (self.lib.next_ex)(self.p, &mut hdr, &mut data) };
        match rc {
            1 => {
                // SAFETY: on 1, libpcap points both at its buffer, valid until the next read;
                // the returned borrow of `self` keeps the next read from happening first.
                let hdr = unsafe { &*hdr };
                let data = unsafe { std::slice::from_raw_parts(data, hdr.caplen as usize) };
                Ok(Read::Packet(hdr, data))
            }
            0 => Ok(Read::None),
            -2 => Ok(Read::End),
            _ => Err(self.error(rc)),
        }
    }

    /// libpcap's message for `rc`.
    fn error(&self, rc: c_int) -> String {
        error(self.lib, self.p, rc)
    }
}

/// libpcap's message for `rc` on `p`: its own error text, or the status's description.
fn error(lib: &Lib, p: Pcap, rc: c_int) -> String {
    // SAFETY: `p` is a live pcap_t; both strings are NUL-terminated and owned by libpcap.
    let own = unsafe { CStr::from_ptr((lib.geterr)(p)) }.to_string_lossy();
    if own.is_empty() {
        unsafe { CStr::from_ptr((lib.statustostr)(rc)) }
            .to_string_lossy()
            .into_owned()
    } else {
        own.into_owned()
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        unsafe { (self.lib.close)(self.p) };
    }
}

fn text(err: &[c_char; ERRBUF]) -> String {
    // SAFETY: libpcap NUL-terminates what it writes into the buffer, which started zeroed.
    unsafe { CStr::from_ptr(err.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

/// Nanoseconds per tick of `tv_usec`, from what pcap_set_tstamp_precision(NANO) returned
/// (`requested`) and the precision pcap_get_tstamp_precision reports (`in_use`): what libpcap
/// says is in use decides; a value it does not define falls back on the request's outcome.
pub fn ns_per_tick(requested: c_int, in_use: c_int) -> i64 {
    match in_use {
        TSTAMP_PRECISION_NANO => 1,
        TSTAMP_PRECISION_MICRO => 1000,
        _ if requested == 0 => 1,
        _ => 1000,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn microseconds_when_nanoseconds_are_refused() {
        assert_eq!(ns_per_tick(0, TSTAMP_PRECISION_NANO), 1);
        assert_eq!(
            ns_per_tick(ERROR_TSTAMP_PRECISION_NOTSUP, TSTAMP_PRECISION_MICRO),
            1000
        );
        // Whatever the request gave, what libpcap says is in use decides.
        assert_eq!(ns_per_tick(0, TSTAMP_PRECISION_MICRO), 1000);
        assert_eq!(ns_per_tick(0, 7), 1);
        assert_eq!(ns_per_tick(ERROR_TSTAMP_PRECISION_NOTSUP, 7), 1000);
    }
}
