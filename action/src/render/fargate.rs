//! The Fargate task size table: which memory sizes go with which cpu.
//! Source: the ECS developer guide, "Task CPU and memory" (Linux).

/// Memory sizes (MiB) Fargate accepts for a task `cpu` (units), or `None`
/// when the cpu itself is not a Fargate size.
pub fn memory_for_cpu(cpu: u64) -> Option<Vec<u64>> {
    let gib = |from: u64, to: u64, step: u64| {
        (from..=to)
            .step_by(step as usize)
            .map(|g| g * 1024)
            .collect()
    };
    Some(match cpu {
        256 => vec![512, 1024, 2048],
        512 => gib(1, 4, 1),
        1024 => gib(2, 8, 1),
        2048 => gib(4, 16, 1),
        4096 => gib(8, 30, 1),
        8192 => gib(16, 60, 4),
        16384 => gib(32, 120, 8),
        _ => return None,
    })
}

/// The task cpu sizes Fargate offers.
pub const CPUS: [u64; 7] = [256, 512, 1024, 2048, 4096, 8192, 16384];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_edges() {
        assert_eq!(memory_for_cpu(256), Some(vec![512, 1024, 2048]));
        assert_eq!(
            memory_for_cpu(4096).map(|m| (m[0], m[m.len() - 1])),
            Some((8192, 30720))
        );
        assert!(memory_for_cpu(8192).is_some_and(|m| m.contains(&20480) && !m.contains(&18432)));
        assert!(memory_for_cpu(16384).is_some_and(|m| m.contains(&122880) && !m.contains(&36864)));
        assert_eq!(memory_for_cpu(300), None);
        let units = |v| {
            serde_json::from_value::<crate::taskdef::Units>(v)
                .unwrap()
                .units()
        };
        assert_eq!(units(serde_json::json!("1 vCPU")), Some(1024));
        assert_eq!(units(serde_json::json!("2 GB")), Some(2048));
        assert_eq!(units(serde_json::json!("512")), Some(512));
    }
}
