//! `pandora registry add | list | remove | set | index | metrics`.

use crate::cli::{
    RegistryAddArgs, RegistryCommand, RegistryGcArgs, RegistryIndexArgs, RegistryMetricsArgs,
    RegistryRemoveArgs, RegistrySetArgs,
};
use crate::commands::Context;
use crate::exit::ExitStatus;
use crate::ops::publish;
use crate::ops::registry::{self, IndexRequest, NewRegistry, RegistryChange};

/// Runs a `pandora registry` subcommand.
pub fn run(command: RegistryCommand, context: &Context) -> anyhow::Result<ExitStatus> {
    match command {
        RegistryCommand::Add(args) => add(&args, context),
        RegistryCommand::List => list(context),
        RegistryCommand::Remove(args) => remove(&args, context),
        RegistryCommand::Set(args) => set(&args, context),
        RegistryCommand::Index(args) => index(&args, context),
        RegistryCommand::Gc(args) => gc(&args, context),
        RegistryCommand::Metrics(args) => metrics(&args, context),
    }
}

fn gc(args: &RegistryGcArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let layout = &context.settings.layout;
    let publisher = publish::Publisher {
        registry: &args.registry,
        key: crate::ops::keys::KeySource::Default,
        expires_in_days: 1,
        home: context.home(),
        variable: |name| std::env::var(name).ok(),
    };
    let plan = publish::plan_gc(layout, &publisher, args.grace)?;
    let bytes: u64 = plan.garbage.iter().map(|listed| listed.size).sum();
    for listed in &plan.garbage {
        context.printer.data(&listed.key);
    }
    if !plan.recent.is_empty() {
        context.printer.status(
            "Kept",
            format!(
                "{} unreferenced file(s) younger than {} s (a publisher may be indexing them; --grace 0 to include them)",
                plan.recent.len(),
                args.grace
            ),
        );
    }
    if plan.garbage.is_empty() {
        context
            .printer
            .status("Clean", format!("nothing to delete in {}", plan.location));
        return Ok(ExitStatus::Success);
    }
    let summary = format!(
        "{} file(s), {} from {}",
        plan.garbage.len(),
        crate::printer::human_bytes(bytes),
        plan.location
    );
    if args.dry_run {
        context.printer.status("Would delete", summary);
        return Ok(ExitStatus::Success);
    }
    if !context.printer.confirm(&format!("Delete {summary}?"))? {
        context.printer.status("Kept", summary);
        return Ok(ExitStatus::NotConfirmed);
    }
    let deleted = publish::gc(layout, &publisher, &plan)?;
    context.printer.status(
        "Deleted",
        format!("{} file(s) from {}", deleted.len(), plan.location),
    );
    Ok(ExitStatus::Success)
}

/// Prints the path of the metrics.acl written; the counts go to stderr as a summary.
fn metrics(args: &RegistryMetricsArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let aggregated = crate::ops::metrics::aggregate(
        &context.settings.layout,
        &crate::ops::metrics::AggregateRequest {
            directory: args.directory.clone(),
            logs: args.access_logs.clone(),
            key: args.key_source(),
        },
    )?;
    let metrics = &aggregated.metrics;
    if metrics.skipped > 0 {
        context.printer.warn(format!(
            "{} of {} access log line(s) were in neither nginx's combined nor the S3 access log format, and were skipped",
            metrics.skipped, metrics.requests
        ));
    }
    let downloads: u64 = metrics
        .packages
        .iter()
        .map(|package| package.downloads)
        .sum();
    context.printer.status(
        "Counted",
        format!(
            "{downloads} download(s) of {} package(s) in {} request(s)",
            metrics
                .packages
                .iter()
                .filter(|package| package.downloads > 0)
                .count(),
            metrics.requests
        ),
    );
    page(&aggregated.page, context);
    context.printer.data(aggregated.path.display());
    Ok(ExitStatus::Success)
}

fn index(args: &RegistryIndexArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let indexed = registry::index(
        &context.settings.layout,
        IndexRequest {
            directory: args.directory.clone(),
            key: args.key_source(),
            expires_in_days: args.expires_in,
            name: args.name.clone(),
            priority: args.priority,
        },
    )?;
    let published = &indexed.published;
    let index = &published.index;
    let versions: usize = index
        .packages
        .iter()
        .map(|package| package.versions.len())
        .sum();
    context.printer.status(
        "Indexed",
        format!(
            "registry `{}`: {} package(s), {versions} version(s), serial {}, expires {}",
            index.name,
            index.packages.len(),
            index.serial.unwrap_or(0),
            pandora_core::time::rfc3339(u64::try_from(index.expires.unwrap_or(0)).unwrap_or(0))
        ),
    );
    context.printer.data(published.path.display());
    page(&indexed.page, context);
    Ok(ExitStatus::Success)
}

/// Says where the web page is, or why it was left alone.
fn page(written: &crate::registry::html::Written, context: &Context) {
    use crate::registry::html::Written;
    match written {
        Written::Page(path) => context
            .printer
            .status("Wrote", format!("the web page {}", path.display())),
        Written::KeptTheirs(path) => {
            context.printer.warn(format!(
                "{} was not written by Pandora, so it was left as it is (no web page)",
                path.display()
            ));
            context
                .printer
                .hint("move it away (or rename it) and run the command again to get the page");
        }
    }
}

fn add(args: &RegistryAddArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let added = registry::add(
        &context.settings.layout,
        &NewRegistry {
            name: args.name.clone(),
            url: args.url.clone(),
            priority: args.priority,
            keys: args.keys.clone(),
            require_signatures: args.require_signatures,
            cache_ttl: args.cache_ttl,
            mirrors: args.mirrors.clone(),
        },
    )?;
    // A notice, not a failure: like other status output, `-q` leaves it out.
    if added.registry.keys.is_empty() && !context.settings.quiet {
        context.printer.warn(format!(
            "registry `{}` has no key: nothing from it is authenticated (its index and packages could be anyone's)",
            added.registry.name
        ));
        context.printer.hint(format!(
            "ask its operator for the key and add it: `pandora registry set {0} --key ed25519:HEX`",
            added.registry.name
        ));
    }
    if let Some(same) = &added.same_url {
        context.printer.warn(format!(
            "registry `{same}` already uses {}",
            added.registry.url
        ));
    }
    context.printer.status(
        "Added",
        format!(
            "registry `{}` ({}) to {}",
            args.name,
            added.registry.url,
            added.file.display()
        ),
    );
    Ok(ExitStatus::Success)
}

fn set(args: &RegistrySetArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let option = |given: bool, value: bool| given.then_some(value);
    let changed = registry::set(
        &context.settings.layout,
        &args.name,
        &RegistryChange {
            priority: args.priority,
            keys: (!args.keys.is_empty()).then(|| args.keys.clone()),
            add_keys: args.add_keys.clone(),
            remove_keys: args.remove_keys.clone(),
            require_signatures: option(args.require_signatures, true)
                .or(option(args.no_require_signatures, false)),
            cache_ttl: args.cache_ttl,
            mirrors: if args.no_mirrors {
                Some(Vec::new())
            } else {
                (!args.mirrors.is_empty()).then(|| args.mirrors.clone())
            },
            allow_publish: option(args.allow_publish, true)
                .or(option(args.no_allow_publish, false)),
            publish_url: if args.no_publish_url {
                Some(None)
            } else {
                args.publish_url.clone().map(Some)
            },
            s3_endpoint: args.s3_endpoint.clone(),
            s3_region: args.s3_region.clone(),
        },
    )?;
    let (before, after) = (&changed.before, &changed.after);
    let mut changes = Vec::new();
    if before.priority != after.priority {
        changes.push(format!(
            "priority {} -> {}",
            before.priority, after.priority
        ));
    }
    if before.keys != after.keys {
        changes.push(format!(
            "{} -> {} key(s)",
            before.keys.len(),
            after.keys.len()
        ));
    }
    if before.require_signatures != after.require_signatures {
        changes.push(if after.require_signatures {
            "signatures required".to_string()
        } else {
            "signatures optional".to_string()
        });
    }
    if before.cache_ttl != after.cache_ttl {
        changes.push(format!(
            "cache_ttl {} -> {} s",
            before.cache_ttl, after.cache_ttl
        ));
    }
    if before.mirrors != after.mirrors {
        changes.push(format!(
            "{} -> {} mirror(s)",
            before.mirrors.len(),
            after.mirrors.len()
        ));
    }
    if before.allow_publish != after.allow_publish {
        changes.push(if after.allow_publish {
            "publishing allowed".to_string()
        } else {
            "publishing not allowed".to_string()
        });
    }
    if before.publish_url != after.publish_url {
        changes.push(match &after.publish_url {
            Some(url) => format!("publish_url {url}"),
            None => "no publish_url".to_string(),
        });
    }
    if before.s3_endpoint != after.s3_endpoint || before.s3_region != after.s3_region {
        changes.push("S3 settings".to_string());
    }
    if after.keys.is_empty() && !before.keys.is_empty() && !context.settings.quiet {
        context.printer.warn(format!(
            "registry `{}` has no key any more: nothing from it is authenticated",
            after.name
        ));
    }
    context.printer.status(
        "Changed",
        format!(
            "registry `{}` in {}: {}",
            after.name,
            changed.file.display(),
            if changes.is_empty() {
                "nothing (it was already so)".to_string()
            } else {
                changes.join(", ")
            }
        ),
    );
    Ok(ExitStatus::Success)
}

/// The URL column: the URL, its mirrors, and what the cached index lacks.
fn url_cell(listed: &registry::Listed) -> String {
    let registry = &listed.registry;
    let mut cell = registry.url.to_string();
    if !registry.mirrors.is_empty() {
        let mirrors: Vec<String> = registry.mirrors.iter().map(ToString::to_string).collect();
        cell.push_str(&format!(" (mirrors: {})", mirrors.join(", ")));
    }
    if let Some(cached) = &listed.cached {
        // Without a configured key nothing is checked, signed or not: say that, not "unsigned".
        let unchecked = registry.keys.is_empty() && cached.signed;
        let lacks: Vec<&str> = [
            (!cached.signed).then_some("unsigned"),
            unchecked.then_some("signature not checked: no key configured"),
            cached.serial.is_none().then_some("no serial"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !lacks.is_empty() {
            cell.push_str(&format!(" [index: {}]", lacks.join(", ")));
        }
    }
    cell
}

fn list(context: &Context) -> anyhow::Result<ExitStatus> {
    let (registries, file) = registry::list(&context.settings.layout)?;
    if registries.is_empty() {
        context
            .printer
            .status("Empty", format!("no registries in {}", file.display()));
        context
            .printer
            .hint("add one with `pandora registry add NAME URL`");
        return Ok(ExitStatus::Success);
    }
    let rows: Vec<[String; 5]> = registries
        .iter()
        .map(|listed| {
            let registry = &listed.registry;
            [
                registry.name.clone(),
                registry.priority.to_string(),
                if registry.require_signatures {
                    "required"
                } else {
                    "optional"
                }
                .to_string(),
                registry.keys.len().to_string(),
                url_cell(listed),
            ]
        })
        .collect();
    let header = ["NAME", "PRIORITY", "SIGNATURES", "KEYS", "URL"].map(str::to_string);
    let widths: Vec<usize> = (0..5)
        .map(|column| {
            rows.iter()
                .chain([&header])
                .map(|row| row[column].len())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in [&header].into_iter().chain(rows.iter()) {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(column, (cell, width))| {
                if column == 4 {
                    cell.clone()
                } else {
                    format!("{cell:<width$}")
                }
            })
            .collect();
        context.printer.data(line.join("  "));
    }
    if context.settings.verbose > 0 {
        for registry in registries.iter().map(|listed| &listed.registry) {
            for key in &registry.keys {
                context
                    .printer
                    .detail(format!("{} trusts {key}", registry.name));
            }
            if let Some(url) = &registry.publish_url {
                let allowed = if registry.allow_publish {
                    "publishes to"
                } else {
                    "would publish to (not allowed)"
                };
                context
                    .printer
                    .detail(format!("{} {allowed} {url}", registry.name));
            }
        }
    }
    Ok(ExitStatus::Success)
}

fn remove(args: &RegistryRemoveArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let layout = &context.settings.layout;
    let found = registry::find(layout, &args.name)?;
    let question = format!("Remove registry `{}` ({})?", found.name, found.url);
    if !context.printer.confirm(&question)? {
        context
            .printer
            .status("Kept", format!("registry `{}`", args.name));
        return Ok(ExitStatus::NotConfirmed);
    }
    let removed = registry::remove(layout, &args.name)?;
    context.printer.status(
        "Removed",
        format!("registry `{}` ({})", removed.name, removed.url),
    );
    Ok(ExitStatus::Success)
}
