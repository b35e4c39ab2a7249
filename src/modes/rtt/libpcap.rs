//! libpcap, loaded with dlopen(3) when `rtt` runs, not linked: libpcap pulls in libdbus,
//! libsystemd, libgcrypt and more, which would cost every other mode ~1.8 MB of resident memory
//! and a hard dependency. Only the few calls `rtt` makes are bound; libpcap itself still does the
//! capture, reads the files and compiles the filters.

use std::ffi::{CStr, CString, c_char, c_int, c_uint, c_void};
use std::sync::OnceLock;

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
const TSTAMP_PRECISION_NANO: c_int = 1;
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

/// An open capture handle.
pub struct Handle {
    lib: &'static Lib,
    p: Pcap,
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
        let h = Handle { lib, p };
        unsafe {
            (lib.set_snaplen)(p, snaplen);
            (lib.set_immediate_mode)(p, 1);
            (lib.set_buffer_size)(p, buffer);
            (lib.set_tstamp_precision)(p, TSTAMP_PRECISION_NANO);
        }
        let rc = unsafe { (lib.activate)(p) };
        if rc < 0 {
            let why = h.error(rc);
            return Err(match rc {
                ERROR_PERM_DENIED => OpenError::PermissionDenied(why),
                ERROR_NO_SUCH_DEVICE => OpenError::NoSuchDevice(why),
                _ => OpenError::Other(why),
            });
        }
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
        Ok(Handle { lib, p })
    }

    /// The link type (LINKTYPE_*/DLT_* number).
    pub fn datalink(&self) -> i32 {
        unsafe { (self.lib.datalink)(self.p) }
    }

    /// Compiles `filter` (tcpdump's syntax) and installs it: in the kernel for a live capture.
    pub fn set_filter(&mut self, filter: &str) -> Result<(), String> {
        let f = CString::new(filter).map_err(|_| "a filter with a NUL byte".to_string())?;
        let mut prog = BpfProgram {
            len: 0,
            insns: std::ptr::null_mut(),
        };
        // PCAP_NETMASK_UNKNOWN: broadcast tests are not supported, which tcpdump also accepts.
        let rc = unsafe { (self.lib.compile)(self.p, &mut prog, f.as_ptr(), 1, 0xffff_ffff) };
        if rc < 0 {
            return Err(self.error(rc));
        }
        let rc = unsafe { (self.lib.setfilter)(self.p, &mut prog) };
        unsafe { (self.lib.freecode)(&mut prog) };
        if rc < 0 {
            return Err(self.error(rc));
        }
        Ok(())
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

    /// libpcap's message for `rc`: its own error text, or the status's description.
    fn error(&self, rc: c_int) -> String {
        let own = unsafe { CStr::from_ptr((self.lib.geterr)(self.p)) }.to_string_lossy();
        if own.is_empty() {
            unsafe { CStr::from_ptr((self.lib.statustostr)(rc)) }
                .to_string_lossy()
                .into_owned()
        } else {
            own.into_owned()
        }
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
