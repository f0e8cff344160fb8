// Times actix-router matching of Depot's route table (in registration order), the way actix-web
// routes a request (capture_match_info on each resource until one matches) and the way
// tracing-actix-web's root span computes http.route (match_pattern: find_match on each resource).
use actix_router::{Path, ResourceDef};
use std::time::Instant;

const ROUTES: &[&str] = &[
    "/healthz", "/readyz", "/v1/models", "/v1/models", "/v1/models/{name}", "/v1/models/{name}", "/v1/models/{name}",
    "/v1/models/{name}/versions", "/v1/models/{name}/versions", "/v1/models/{name}/versions/{version}",
    "/v1/models/{name}/versions/{version}", "/v1/models/{name}/versions/{version}",
    "/v1/models/{name}/versions/{version}/artifact", "/v1/audit",
    "/v1/models/{name}/deployment", "/v1/models/{name}/deployment", "/v1/models/{name}/deployment/rollback",
    "/v1/models/{name}/deployment", "/v1/models/{name}/deployment/canary", "/v1/models/{name}/deployment/canary/promote",
    "/v1/models/{name}/deployment/canary", "/v1/models/{name}/deployment/history", "/v1/models/{name}/aliases",
    "/v1/models/{name}/aliases/{alias}", "/v1/models/{name}/aliases/{alias}", "/v1/models/{name}/aliases/{alias}",
    "/v1/models/{name}/versions/{version}/predict", "/v1/models/{name}/predict",
    "/v2", "/v2/health/live", "/v2/health/ready", "/v2/models/{name}/versions/{version}", "/v2/models/{name}",
    "/v2/models/{name}/versions/{version}/ready", "/v2/models/{name}/ready",
    "/v2/models/{name}/versions/{version}/infer", "/v2/models/{name}/infer",
];
// The table before the deployment and alias routes were added (indices into ROUTES).
const OLD: &[usize] = &[0,1,2,3,4,5,6,7,8,9,10,11,12,13,26,28,29,30,31,34,35];

fn bench(defs: &[ResourceDef], path: &str) -> (f64, f64, usize) {
    let n = 200_000;
    let mut hit = 0;
    let t = Instant::now();
    for _ in 0..n {
        let mut p = Path::new(path);
        for (i, d) in defs.iter().enumerate() {
            if d.capture_match_info(&mut p) { hit = i; break; }
        }
        std::hint::black_box(&p);
    }
    let route = t.elapsed().as_secs_f64() / n as f64 * 1e6;
    let t = Instant::now();
    for _ in 0..n {
        for d in defs { if d.find_match(std::hint::black_box(path)).is_some() { break; } }
    }
    let pattern = t.elapsed().as_secs_f64() / n as f64 * 1e6;
    (route, pattern, hit)
}

fn main() {
    let engine = if cfg!(feature = "unicode") { "regex (actix-web feature unicode)" } else { "regex-lite (actix-web default-features = false)" };
    for (label, table) in [("current routes", (0..ROUTES.len()).collect::<Vec<_>>()), ("without deployment/alias routes", OLD.to_vec())] {
        let defs: Vec<ResourceDef> = table.iter().map(|&i| ResourceDef::new(ROUTES[i])).collect();
        for path in ["/healthz", "/v1/models/tiny/versions/1/predict", "/v2/models/tiny/versions/1/infer"] {
            let (route, pattern, hit) = bench(&defs, path);
            println!("{engine:<48} {label:<30} {path:<36} resource #{hit:<2}: route {route:6.2} us + match_pattern {pattern:6.2} us");
        }
    }
}
