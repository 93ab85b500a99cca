//! write → parse → write is the identity on every DAG `plan` can produce, and on DAGs with
//! any VARS values (quotes, backslashes, macros) a node can carry.

use casa_run::{CasaDag, Dag, Node, RunId};
use proptest::prelude::*;

fn roundtrip(dag: &Dag) {
    let text = dag.to_string();
    let parsed = Dag::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(&parsed, dag);
    assert_eq!(parsed.to_string(), text);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn casa_dags_round_trip(
        leaves in 1usize..300,
        fan_in in 2usize..20,
        retries in 0u32..10,
        permanent_exit in 1i32..255,
        skip in any::<bool>(),
        max_merge in 1u32..64,
        run_id in "[A-Za-z0-9._-]{1,12}",
        rundir in "/[a-z0-9/._+@%,:~-]{1,30}",
    ) {
        let run_id = RunId::new(&run_id).unwrap();
        let (dag, merges) = CasaDag {
            run_id: &run_id,
            leaves,
            fan_in,
            retries,
            permanent_exit,
            submit: "/opt/casa/bin/casa-submit",
            rundir: &rundir,
            skip_bad_files: skip,
            max_merge_jobs: max_merge,
        }
        .build()
        .unwrap();
        prop_assert_eq!(dag.nodes().len(), leaves + merges);
        prop_assert!(dag.find_cycle().is_none());
        // Every node but the final merge has exactly one child.
        for n in dag.nodes() {
            prop_assert_eq!(n.children.len(), usize::from(n.name != "merge-final"));
        }
        roundtrip(&dag);
    }

    #[test]
    fn any_vars_round_trip(
        nodes in prop::collection::vec(
            prop::collection::vec(("[A-Za-z_][A-Za-z0-9_]{0,6}", "[ -~]{0,24}"), 0..4),
            1..12,
        ),
        edges in prop::collection::vec((0usize..12, 0usize..12), 0..20),
        retry in prop::option::of((0u32..5, prop::option::of(-5i32..300))),
    ) {
        let mut dag = Dag::new();
        dag.comment("random");
        for (i, vars) in nodes.iter().enumerate() {
            let mut n = Node::new(format!("n{i}"), "x.sub");
            for (k, v) in vars {
                if k.eq_ignore_ascii_case("queue") {
                    continue;
                }
                n = n.var(k.clone(), v.clone());
            }
            if let Some((count, unless)) = retry {
                n = n.retry(count, unless);
            }
            if i % 2 == 1 {
                n = n.category("c").post("/bin/post $JOB $RETURN");
            }
            dag.add_node(n).unwrap();
        }
        // Edges from lower to higher indices (a DAG), added child by child as the PARENT
        // lines are read back.
        let mut edges: Vec<(usize, usize)> =
            edges.iter().map(|(p, c)| (p % nodes.len(), c % nodes.len())).collect();
        edges.sort_by_key(|e| e.1);
        for (p, c) in edges {
            if p < c && !dag.node(c).parents.contains(&p) {
                dag.add_edge(p, c);
            }
        }
        dag.max_jobs("c", 3);
        roundtrip(&dag);
    }
}
