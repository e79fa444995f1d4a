//! NVIDIA GPUs through NVML, loaded at run time (`libnvidia-ml.so.1` through `nvml-wrapper`): no
//! link-time dependency, and a machine without the driver answers `n/a (no NVIDIA driver)` in a
//! few milliseconds, never an error. NVML is initialised once per process ([`shared`]) and
//! reached through the [`Nvidia`] trait, which the per-task GPU sampler (`gpu_use`) reuses and
//! tests replace with a fake.

use super::model::{Gpu, Gpus, Probed};
use nvml_wrapper::error::NvmlError;
use nvml_wrapper::Nvml;
use std::sync::OnceLock;

/// One GPU's fixed facts.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceFacts {
    pub name: String,
    pub uuid: String,
    pub memory_bytes: u64,
}

/// A process using a GPU, as the driver reports it (host PIDs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GpuProcess {
    pub pid: u32,
    /// GPU memory it holds, when the driver says.
    pub used_bytes: Option<u64>,
}

/// A GPU's current load.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeviceLoad {
    pub memory_used_bytes: u64,
    /// Percent of the last sample period a kernel ran.
    pub util_pct: u32,
}

/// What labtrail asks NVML; every answer is a value or why not (a message).
pub trait Nvidia: Send + Sync {
    /// The driver's version (`550.54.15`).
    fn driver_version(&self) -> Result<String, String>;
    /// The CUDA version the driver supports (`12.4`).
    fn cuda_version(&self) -> Result<String, String>;
    /// How many GPUs the driver sees (all of them, whatever `CUDA_VISIBLE_DEVICES` says).
    fn device_count(&self) -> Result<u32, String>;
    /// The GPU at NVML index `index`.
    fn device(&self, index: u32) -> Result<DeviceFacts, String>;
    /// The compute processes on GPU `index`.
    fn processes(&self, index: u32) -> Result<Vec<GpuProcess>, String>;
    /// GPU `index`'s memory in use and utilisation now.
    fn load(&self, index: u32) -> Result<DeviceLoad, String>;
}

/// This process's NVML, initialised on first use (the slow part: up to seconds per GPU when
/// persistence mode is off), or why there is none: `no NVIDIA driver` when the library is not
/// installed.
pub fn shared() -> Result<&'static dyn Nvidia, String> {
    static NVML: OnceLock<Result<RealNvml, String>> = OnceLock::new();
    match NVML.get_or_init(|| Nvml::init().map(RealNvml).map_err(|e| why(&e))) {
        Ok(n) => Ok(n),
        Err(e) => Err(e.clone()),
    }
}

/// The reason an NVML init failed, as shown after `n/a`.
fn why(e: &NvmlError) -> String {
    match e {
        NvmlError::LibloadingError(_) | NvmlError::LibraryNotFound => "no NVIDIA driver".into(),
        NvmlError::DriverNotLoaded => "NVIDIA driver not loaded".into(),
        NvmlError::NoPermission => "no permission to query the NVIDIA driver".into(),
        other => format!("NVML: {other}"),
    }
}

struct RealNvml(Nvml);

fn text(e: NvmlError) -> String {
    e.to_string()
}

impl Nvidia for RealNvml {
    fn driver_version(&self) -> Result<String, String> {
        self.0.sys_driver_version().map_err(text)
    }
    fn cuda_version(&self) -> Result<String, String> {
        let v = self.0.sys_cuda_driver_version().map_err(text)?;
        Ok(format!(
            "{}.{}",
            nvml_wrapper::cuda_driver_version_major(v),
            nvml_wrapper::cuda_driver_version_minor(v)
        ))
    }
    fn device_count(&self) -> Result<u32, String> {
        self.0.device_count().map_err(text)
    }
    fn device(&self, index: u32) -> Result<DeviceFacts, String> {
        let d = self.0.device_by_index(index).map_err(text)?;
        Ok(DeviceFacts {
            name: d.name().map_err(text)?,
            uuid: d.uuid().map_err(text)?,
            memory_bytes: d.memory_info().map_err(text)?.total,
        })
    }
    fn processes(&self, index: u32) -> Result<Vec<GpuProcess>, String> {
        use nvml_wrapper::enums::device::UsedGpuMemory;
        let d = self.0.device_by_index(index).map_err(text)?;
        Ok(d.running_compute_processes()
            .map_err(text)?
            .into_iter()
            .map(|p| GpuProcess {
                pid: p.pid,
                used_bytes: match p.used_gpu_memory {
                    UsedGpuMemory::Used(b) => Some(b),
                    UsedGpuMemory::Unavailable => None,
                },
            })
            .collect())
    }
    fn load(&self, index: u32) -> Result<DeviceLoad, String> {
        let d = self.0.device_by_index(index).map_err(text)?;
        Ok(DeviceLoad {
            memory_used_bytes: d.memory_info().map_err(text)?.used,
            util_pct: d.utilization_rates().map_err(text)?.gpu,
        })
    }
}

/// The GPUs the tasks can see through this process's NVML; `n/a (why)` without one.
pub fn capture(visible: Option<&str>) -> Probed<Gpus> {
    match shared() {
        Ok(nv) => inventory(nv, visible),
        Err(why) => Probed::Na(why),
    }
}

/// The inventory `nv` gives, restricted to `visible` (`CUDA_VISIBLE_DEVICES`: indices or UUID
/// prefixes; a form it does not know, such as MIG ids, keeps every GPU).
pub fn inventory(nv: &dyn Nvidia, visible: Option<&str>) -> Probed<Gpus> {
    let count = match nv.device_count() {
        Ok(n) => n,
        Err(e) => return Probed::Na(format!("NVML: {e}")),
    };
    let mut devices = Vec::new();
    for index in 0..count {
        match nv.device(index) {
            Ok(f) if sees(visible, index, &f.uuid) => devices.push(Gpu {
                index,
                name: f.name,
                uuid: f.uuid,
                memory_bytes: f.memory_bytes,
            }),
            Ok(_) => {}
            Err(e) => return Probed::Na(format!("NVML: GPU {index}: {e}")),
        }
    }
    Probed::Value(Gpus {
        driver: nv.driver_version().unwrap_or_else(|e| format!("n/a ({e})")),
        cuda: nv.cuda_version().unwrap_or_else(|e| format!("n/a ({e})")),
        visible: visible.map(str::to_string),
        devices,
    })
}

/// Whether a task given `visible` sees the GPU with this NVML `index` and `uuid`.
fn sees(visible: Option<&str>, index: u32, uuid: &str) -> bool {
    let Some(v) = visible else { return true };
    let entries: Vec<&str> = v
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    // CUDA stops at the first invalid entry; `-1` or an empty list hides every GPU.
    let mut out = false;
    for e in entries {
        if let Ok(i) = e.parse::<i64>() {
            if i < 0 {
                break;
            }
            out |= i == index as i64;
        } else if e.starts_with("GPU-") {
            out |= uuid.starts_with(e);
        } else {
            return true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake NVML with two GPUs (named fake: no GPU on the test machines).
    struct FakeNvml;
    impl Nvidia for FakeNvml {
        fn driver_version(&self) -> Result<String, String> {
            Ok("550.54.15".into())
        }
        fn cuda_version(&self) -> Result<String, String> {
            Ok("12.4".into())
        }
        fn device_count(&self) -> Result<u32, String> {
            Ok(2)
        }
        fn device(&self, index: u32) -> Result<DeviceFacts, String> {
            Ok(DeviceFacts {
                name: "NVIDIA A100-SXM4-80GB".into(),
                uuid: format!("GPU-{index}aaa-bbbb"),
                memory_bytes: 80 << 30,
            })
        }
        fn processes(&self, _: u32) -> Result<Vec<GpuProcess>, String> {
            Ok(Vec::new())
        }
        fn load(&self, _: u32) -> Result<DeviceLoad, String> {
            Err("not supported".into())
        }
    }

    #[test]
    fn the_devices_the_tasks_see() {
        let uuids = |v: Option<&str>| match inventory(&FakeNvml, v) {
            Probed::Value(g) => g.devices.iter().map(|d| d.index).collect::<Vec<_>>(),
            Probed::Na(e) => panic!("{e}"),
        };
        assert_eq!(uuids(None), [0, 1]);
        assert_eq!(uuids(Some("1")), [1]);
        assert_eq!(uuids(Some("GPU-0aaa")), [0]);
        assert_eq!(uuids(Some("")), Vec::<u32>::new());
        assert_eq!(uuids(Some("0,-1,1")), [0]);
        assert_eq!(uuids(Some("MIG-abc")), [0, 1]);
    }

    /// Issue 12: without the NVIDIA library, the GPU probe says so and does not fail (this test
    /// machine has no driver; on one with a driver it checks nothing).
    #[test]
    fn no_driver_is_na_not_an_error() {
        if std::path::Path::new("/proc/driver/nvidia").exists() {
            return;
        }
        let t = std::time::Instant::now();
        let got = capture(None);
        eprintln!("GPU probe without a driver: {:?}", t.elapsed());
        assert_eq!(got, Probed::na("no NVIDIA driver"));
    }
}
