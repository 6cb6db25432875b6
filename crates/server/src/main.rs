//! `salon`: the server and its command line.

mod backup;
mod bench;
mod bench_callbacks;
mod bench_dispatch;
mod bench_load;
mod bench_messages;
mod bench_rules;
mod bench_sales;
mod bench_search;
mod bench_segments;
mod config;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};

use app::Salon;
use config::StoreArgs;
use domain::Role;

#[derive(Parser)]
#[command(
    name = "salon",
    version,
    about = "Salon: clienteling and social selling for luxury brands"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web server (the default command).
    Serve(ServeArgs),
    /// API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Import data into a brand.
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// Brands (tenants).
    Brand {
        #[command(subcommand)]
        command: BrandCommand,
    },
    /// A brand's stores.
    Store {
        #[command(subcommand)]
        command: StoreCommand,
    },
    /// Sales: the attribution policy and the month's statements (spec/attribution.md).
    Sales {
        #[command(subcommand)]
        command: SalesCommand,
    },
    /// Staff accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// A brand's WeChat channels: WeCom and the Official Account.
    Channel {
        #[command(subcommand)]
        command: ChannelCommand,
    },
    /// Whole-system benchmarks (client book, profile, phone lookup, CSV import).
    Bench(bench::BenchArgs),
    /// Synthetic data.
    Generate {
        #[command(subcommand)]
        command: GenerateCommand,
    },
    /// The brand's hash-chained audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Export data from a brand.
    Export {
        #[command(subcommand)]
        command: ExportCommand,
    },
    /// Copy the SQLite database, consistently, while the server runs (VACUUM INTO). The copy
    /// (mode 0600) holds no master key: back up DATA_DIR/master.key separately. PostgreSQL:
    /// use pg_dump (see the README).
    Backup {
        /// The backup file to write; refused if it exists, unless --force.
        #[arg(long)]
        out: PathBuf,
        /// Replace FILE if it exists.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        store_args: StoreArgs,
    },
    /// Install a backup as the data directory's database, with Salon stopped. The file must
    /// be an intact SQLite database of a schema this binary knows; the previous database is
    /// kept as salon.db.before-restore-TIME. PostgreSQL: use pg_restore (see the README).
    Restore {
        /// The backup file, as `salon backup` wrote it.
        #[arg(long)]
        from: PathBuf,
        #[command(flatten)]
        store_args: StoreArgs,
    },
    /// The Luxury Index report (spec/luxury-index.md) over an events file or a brand's stored
    /// events.
    Index {
        /// An events file: JSON Lines (.jsonl, .jsonl.gz) or Parquet (.parquet).
        #[arg(long, required_unless_present = "brand", conflicts_with = "brand")]
        events: Option<PathBuf>,
        /// A brand's stored events (imports and what the channels recorded).
        #[arg(long)]
        brand: Option<String>,
        /// First day of the period (YYYY-MM-DD), inclusive.
        #[arg(long)]
        from: String,
        /// Day after the period (YYYY-MM-DD), exclusive.
        #[arg(long)]
        to: String,
        /// The time zone of days and months (default: the brand's, or Asia/Shanghai).
        #[arg(long)]
        tz: Option<String>,
        /// json (the spec's object), table (for a terminal) or html (a printable page).
        #[arg(long, default_value = "json")]
        format: String,
        /// Leave out bad lines (each is reported) instead of refusing the file.
        #[arg(long)]
        skip_bad: bool,
        #[command(flatten)]
        store_args: StoreArgs,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Checks every entry's hash and its link to the one before; exits 1 naming the first
    /// broken entry.
    Verify {
        #[arg(long)]
        brand: String,
        #[command(flatten)]
        store_args: StoreArgs,
    },
    /// Prints the log as JSON Lines.
    Show {
        #[arg(long)]
        brand: String,
        #[command(flatten)]
        store_args: StoreArgs,
    },
}

#[derive(Subcommand)]
enum ExportCommand {
    /// A brand's events in the exchange format (JSON Lines; gzip when FILE ends in .gz).
    Events {
        #[arg(long)]
        brand: String,
        /// jsonl or parquet.
        #[arg(long, default_value = "jsonl")]
        format: String,
        /// Where to write (standard output by default; required for parquet).
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        store_args: StoreArgs,
    },
}

#[derive(Args, Default)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "SALON_LISTEN")]
    listen: Option<SocketAddr>,
    /// Start without the demo brand (refused while a demo brand exists: remove it with
    /// `salon brand delete demo`).
    #[arg(long, env = "SALON_NO_DEMO")]
    no_demo: bool,
    /// Seed and serve the demo brand and its sandbox (`/sandbox`) even on an address others
    /// can reach. Without it they exist only when Salon listens on loopback, not behind a
    /// proxy: the demo's accounts have a published password.
    #[arg(long, env = "SALON_DEMO", conflicts_with = "no_demo")]
    demo: bool,
    /// How many demo clients to generate on a fresh store.
    #[arg(long, env = "SALON_DEMO_CLIENTS", hide = true)]
    demo_clients: Option<usize>,
    /// Trust X-Forwarded-For and X-Forwarded-Proto (behind a TLS-terminating proxy).
    #[arg(long, env = "SALON_BEHIND_PROXY")]
    behind_proxy: bool,
    /// How many proxies stand in front of Salon (implies --behind-proxy; default 1): the
    /// client's address is that many entries from the right of X-Forwarded-For.
    #[arg(long, env = "SALON_PROXY_HOPS", value_parser = clap::value_parser!(u8).range(1..=16))]
    proxy_hops: Option<u8>,
    /// How long a campaign batch is held before a silent holder is presumed dead (ms).
    #[arg(long, env = "SALON_DISPATCH_LEASE_MS", hide = true)]
    dispatch_lease_ms: Option<u64>,
    /// How long to wait for a provider's answer (ms); must stay below the lease.
    #[arg(long, env = "SALON_PROVIDER_TIMEOUT_MS", hide = true)]
    provider_timeout_ms: Option<u64>,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create an API bearer token; it is printed once, as the last line.
    Create {
        #[arg(long)]
        brand: String,
        #[arg(long)]
        role: Role,
        /// The staff member the token acts as (required for the associate role).
        #[arg(long)]
        user: Option<String>,
        /// The store a store-manager token manages.
        #[arg(long)]
        store: Option<String>,
        #[arg(long, default_value = "cli")]
        label: String,
        #[command(flatten)]
        store_args: StoreArgs,
    },
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Import interaction events (spec/events.md: JSON Lines, .gz, or Parquet) into a brand; importing
    /// the same events twice adds nothing.
    Events {
        file: PathBuf,
        #[arg(long)]
        brand: String,
        /// Import the good lines and report the bad ones.
        #[arg(long)]
        skip_bad: bool,
        #[command(flatten)]
        store_args: StoreArgs,
    },
    /// Import orders (spec/attribution.md JSON Lines; idempotent on order_id).
    Orders(SalesImportArgs),
    /// Import returns (idempotent on return_id; each names a held order and line).
    Returns(SalesImportArgs),
    /// Import touches from other systems (the same touch twice is held once).
    Touches(SalesImportArgs),
    /// Import daily exchange rates.
    Fx(SalesImportArgs),
    /// Import products into the catalogue from CSV or JSON Lines (by the file's extension:
    /// .csv, or .jsonl / .ndjson / .json); upserted by SKU, so the same file again changes
    /// nothing. A bad line is refused, naming its line and field, and nothing is stored.
    Products(CatalogueImportArgs),
    /// Import stock levels per store (columns sku, store, quantity; CSV or JSON Lines). Every
    /// SKU must be in the catalogue and every store exist.
    Stock(CatalogueImportArgs),
    /// Import clients from a CSV file (idempotent on crm_id).
    Clients {
        file: PathBuf,
        #[arg(long)]
        brand: String,
        /// Import the good rows and report the bad ones.
        #[arg(long)]
        skip_bad: bool,
        #[command(flatten)]
        store_args: StoreArgs,
    },
}

#[derive(Args)]
struct SalesImportArgs {
    /// The JSON Lines file. A bad line is refused, naming its line and field, and nothing of
    /// the file is stored.
    file: PathBuf,
    #[arg(long)]
    brand: String,
    #[command(flatten)]
    store_args: StoreArgs,
}

#[derive(Args)]
struct CatalogueImportArgs {
    file: PathBuf,
    #[arg(long)]
    brand: String,
    #[command(flatten)]
    store_args: StoreArgs,
}

#[derive(Subcommand)]
enum StoreCommand {
    /// Create a store.
    Create {
        #[arg(long)]
        brand: String,
        /// The store's code (letters, digits, - and _), as orders name it.
        #[arg(long)]
        code: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        city: String,
        /// ISO 3166 two-letter country code.
        #[arg(long)]
        country: String,
        /// IANA time zone (the brand's by default).
        #[arg(long)]
        time_zone: Option<String>,
        #[command(flatten)]
        store_args: StoreArgs,
    },
    /// List a brand's stores.
    List {
        #[arg(long)]
        brand: String,
        #[command(flatten)]
        store_args: StoreArgs,
    },
}

#[derive(Subcommand)]
enum SalesCommand {
    /// Set the brand's attribution and commission policy from the spec's policy file (absent
    /// keys take their defaults; the targets it names are set).
    Policy {
        #[arg(long)]
        brand: String,
        #[arg(long)]
        file: PathBuf,
        #[command(flatten)]
        store_args: StoreArgs,
    },
    /// Loyalty tiers by lifetime spend: with --set, replace the thresholds (TIER=AMOUNT in
    /// minor units of the brand's currency, comma-separated, e.g. "Silver=1000000,Gold=5000000");
    /// without, print them. Clients move when their spend next changes.
    Tiers {
        #[arg(long)]
        brand: String,
        #[arg(long)]
        set: Option<String>,
        #[command(flatten)]
        store_args: StoreArgs,
    },
    /// Make (or replace) the secret the e-commerce platform signs its order webhooks with;
    /// prints the webhook's path and the secret, once.
    Webhook {
        #[arg(long)]
        brand: String,
        #[command(flatten)]
        store_args: StoreArgs,
    },
    /// A month's statements: json (the spec's report), table or csv (for payroll).
    Report {
        #[arg(long)]
        brand: String,
        /// YYYY-MM, in the brand's time zone.
        #[arg(long)]
        month: String,
        #[arg(long, default_value = "json")]
        format: String,
        #[command(flatten)]
        store_args: StoreArgs,
    },
}

#[derive(Subcommand)]
enum BrandCommand {
    /// Create a brand.
    Create {
        #[arg(long)]
        slug: String,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "Asia/Shanghai")]
        time_zone: String,
        /// Loyalty tiers, lowest first, comma-separated.
        #[arg(long, default_value = "Classic,Silver,Gold,Platinum")]
        tiers: String,
        /// The brand's currency (ISO 4217): statements and commissions are in it.
        #[arg(long, default_value = "CNY")]
        currency: String,
        #[command(flatten)]
        store_args: StoreArgs,
    },
    /// List brands.
    List {
        #[command(flatten)]
        store_args: StoreArgs,
    },
    /// Delete a brand and everything of it (staff, sessions, tokens, clients, channel settings,
    /// messages, sales, catalogue, audit log, search index), in one transaction. Cannot be
    /// undone: any brand but the demo needs --yes.
    Delete {
        slug: String,
        /// Confirm the deletion of a brand other than the demo.
        #[arg(long)]
        yes: bool,
        #[command(flatten)]
        store_args: StoreArgs,
    },
}

#[derive(Subcommand)]
enum ChannelCommand {
    /// Configure the brand's WeCom (WeChat Work) app. Takes effect within seconds in a running
    /// server, and at the latest on its next start.
    Wecom {
        #[arg(long)]
        brand: String,
        /// The corp id (企业ID): the callbacks' receive id.
        #[arg(long)]
        corp_id: String,
        #[arg(long)]
        agent_id: Option<String>,
        /// The app's Secret (or SALON_WECOM_SECRET).
        #[arg(long, env = "SALON_WECOM_SECRET", hide_env_values = true)]
        secret: String,
        /// The callback Token (or SALON_WECOM_TOKEN).
        #[arg(long, env = "SALON_WECOM_TOKEN", hide_env_values = true)]
        token: String,
        /// The callback EncodingAESKey, 43 characters (or SALON_WECOM_AES_KEY).
        #[arg(long, env = "SALON_WECOM_AES_KEY", hide_env_values = true)]
        aes_key: String,
        /// The API root (Tencent's by default).
        #[arg(long)]
        api_base: Option<String>,
        #[command(flatten)]
        store_args: StoreArgs,
    },
    /// Configure the brand's WeChat Official Account.
    WechatOa {
        #[arg(long)]
        brand: String,
        /// The account's AppID: the callbacks' receive id.
        #[arg(long)]
        app_id: String,
        /// The AppSecret (or SALON_OA_SECRET).
        #[arg(long, env = "SALON_OA_SECRET", hide_env_values = true)]
        secret: String,
        #[arg(long, env = "SALON_OA_TOKEN", hide_env_values = true)]
        token: String,
        #[arg(long, env = "SALON_OA_AES_KEY", hide_env_values = true)]
        aes_key: String,
        #[arg(long)]
        api_base: Option<String>,
        /// Menu keys to categories: KEY=ecommerce,KEY2=information,KEY3=crm.
        #[arg(long)]
        menu: Option<String>,
        #[command(flatten)]
        store_args: StoreArgs,
    },
    /// Show a brand's channel settings (secrets masked) and callback inbox.
    Show {
        #[arg(long)]
        brand: String,
        #[command(flatten)]
        store_args: StoreArgs,
    },
    /// Read every customer group (客户群) of the brand's WeCom and store the rosters.
    Groups {
        #[arg(long)]
        brand: String,
        #[command(flatten)]
        store_args: StoreArgs,
    },
    /// Store a dump of the WeCom chat archive, as the brand's archive reader decrypted it:
    /// JSON Lines of `{"seq": …, "message": {…}}` (or one `{"chatdata": […]}` object).
    /// Messages already held are not stored again.
    Archive {
        file: std::path::PathBuf,
        #[arg(long)]
        brand: String,
        #[command(flatten)]
        store_args: StoreArgs,
    },
    /// Test the connection to a provider: `wecom` or `wechat-oa`.
    Test {
        channel: String,
        #[arg(long)]
        brand: String,
        #[command(flatten)]
        store_args: StoreArgs,
    },
}

#[derive(Subcommand)]
enum GenerateCommand {
    /// A synthetic brand's year of sales in spec/attribution.md's files (orders, returns,
    /// touches, rates, a policy with targets), for `salon bench --sales` and DuckDB.
    Sales {
        #[arg(long, default_value_t = 1_000_000)]
        clients: u64,
        #[arg(long, default_value_t = 2_000)]
        associates: u64,
        #[arg(long, default_value_t = 1_000_000)]
        orders: u64,
        #[arg(long, default_value_t = 10_000_000)]
        touches: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// First day (YYYY-MM-DD, Asia/Shanghai); a year follows.
        #[arg(long, default_value = "2025-01-01")]
        start: String,
        /// The directory to write the files to.
        #[arg(long)]
        out: PathBuf,
    },
    /// A synthetic WeChat community's events, as JSON Lines (gzip when FILE ends in .gz).
    Events {
        #[arg(long, default_value_t = 10_000)]
        people: usize,
        #[arg(long, default_value_t = 365)]
        days: i64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// First day (YYYY-MM-DD, Asia/Shanghai).
        #[arg(long, default_value = "2025-01-01")]
        start: String,
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a staff member who can sign in to the web UI.
    Create {
        #[arg(long)]
        brand: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        role: Role,
        #[arg(long)]
        store: Option<String>,
        /// The password (or set SALON_USER_PASSWORD).
        #[arg(long, env = "SALON_USER_PASSWORD", hide_env_values = true)]
        password: String,
        #[command(flatten)]
        store_args: StoreArgs,
    },
    /// Mark a staff member as departed (any role: the only way to remove a compliance officer).
    Depart {
        #[arg(long)]
        brand: String,
        #[arg(long)]
        email: String,
        #[command(flatten)]
        store_args: StoreArgs,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SALON_LOG")
                .unwrap_or_else(|_| "info,sqlx=warn,tantivy=warn".into()),
        )
        .with_target(false)
        // Logs on stderr: stdout is what a command answers (`--format json` is piped).
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve(ServeArgs::default())) {
        Command::Serve(args) => serve(args).await,
        Command::Backup {
            out,
            force,
            store_args,
        } => backup::backup(&store_args.resolve()?, &out, force).await,
        Command::Restore { from, store_args } => {
            backup::restore(&store_args.resolve()?, &from).await
        }
        Command::Token {
            command:
                TokenCommand::Create {
                    brand,
                    role,
                    user,
                    store,
                    label,
                    store_args,
                },
        } => {
            let salon = store_args.resolve()?.open().await?;
            let token = salon
                .create_token(&brand, role, user.as_deref(), store.as_deref(), &label)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            eprintln!(
                "Created a {role} token for brand {brand}. It is shown once; keep it secret."
            );
            println!("{token}");
            Ok(())
        }
        Command::Import {
            command:
                ImportCommand::Clients {
                    file,
                    brand,
                    skip_bad,
                    store_args,
                },
        } => {
            let salon = store_args.resolve()?.open().await?;
            let bytes =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let actor = system_actor(&salon, &brand).await?;
            let report = salon
                .import_clients_csv(&actor, &bytes, skip_bad)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            for e in &report.errors {
                eprintln!("line {}: {}: {}", e.line, e.field, e.message);
            }
            if report.imported {
                println!(
                    "imported {} rows: {} created, {} updated, {} skipped",
                    report.rows,
                    report.created,
                    report.updated,
                    report.errors.len()
                );
                Ok(())
            } else {
                bail!(
                    "{} problem(s); nothing was imported (use --skip-bad to import the good rows)",
                    report.errors.len()
                )
            }
        }
        Command::Brand {
            command:
                BrandCommand::Create {
                    slug,
                    name,
                    time_zone,
                    tiers,
                    currency,
                    store_args,
                },
        } => {
            let salon = store_args.resolve()?.open().await?;
            let brand = salon
                .repo
                .create_brand(&domain::NewBrand {
                    slug: domain::Slug::parse("slug", &slug)?,
                    name: domain::text("name", &name, 100)?,
                    time_zone: domain::TimeZoneName::parse("time_zone", &time_zone)?,
                    currencies: vec![domain::Currency::parse("currency", &currency)?],
                    locales: vec![
                        domain::Locale::parse("locale", "zh-CN")?,
                        domain::Locale::parse("locale", "en")?,
                    ],
                    tiers: tiers
                        .split(',')
                        .map(|t| t.trim().to_owned())
                        .filter(|t| !t.is_empty())
                        .collect(),
                })
                .await?;
            salon
                .seed_default_rules(brand.id)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("created brand {} ({})", brand.slug, brand.name);
            Ok(())
        }
        Command::Brand {
            command: BrandCommand::List { store_args },
        } => {
            let salon = store_args.resolve()?.open().await?;
            for b in salon.repo.list_brands().await? {
                println!("{}\t{}\t{}", b.slug, b.name, b.time_zone);
            }
            Ok(())
        }
        Command::Brand {
            command:
                BrandCommand::Delete {
                    slug,
                    yes,
                    store_args,
                },
        } => {
            let salon = store_args.resolve()?.open().await?;
            let brand = salon
                .repo
                .brand_by_slug(&slug)
                .await?
                .with_context(|| format!("no brand has the slug {slug:?}"))?;
            if slug != sim::demo::DEMO_SLUG && !yes {
                bail!(
                    "deleting brand {slug} ({}) removes all of its data for good; add --yes to confirm",
                    brand.name
                );
            }
            let rows = salon
                .delete_brand(&slug)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "deleted brand {slug} ({}): {rows} rows, its accounts, keys and channel settings",
                brand.name
            );
            Ok(())
        }
        Command::User {
            command:
                UserCommand::Create {
                    brand,
                    email,
                    name,
                    role,
                    store,
                    password,
                    store_args,
                },
        } => {
            let salon = store_args.resolve()?.open().await?;
            let actor = system_actor(&salon, &brand).await?;
            let input = app::org::AssociateInput {
                email: Some(email),
                display_name: Some(name),
                role: Some(role.as_str().to_owned()),
                store,
                password: Some(password),
            };
            let user = salon
                .create_staff_as_operator(&actor, &input)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("created {} ({}) in brand {brand}", user.email, user.role);
            Ok(())
        }
        Command::User {
            command:
                UserCommand::Depart {
                    brand,
                    email,
                    store_args,
                },
        } => {
            let salon = store_args.resolve()?.open().await?;
            let actor = system_actor(&salon, &brand).await?;
            let user = salon
                .repo
                .user_by_email(actor.brand.id, &email)
                .await?
                .with_context(|| format!("no staff member {email} in brand {brand}"))?;
            let user = salon
                .depart_staff_as_operator(&actor, user.id)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "{} ({}) has departed from brand {brand}",
                user.email, user.role
            );
            Ok(())
        }
        Command::Channel { command } => channel(command).await,
        Command::Store { command } => store_command(command).await,
        Command::Sales { command } => sales_command(command).await,
        Command::Import {
            command: ImportCommand::Orders(args),
        } => import_sales(app::sales::SalesFile::Orders, args).await,
        Command::Import {
            command: ImportCommand::Returns(args),
        } => import_sales(app::sales::SalesFile::Returns, args).await,
        Command::Import {
            command: ImportCommand::Touches(args),
        } => import_sales(app::sales::SalesFile::Touches, args).await,
        Command::Import {
            command: ImportCommand::Fx(args),
        } => import_sales(app::sales::SalesFile::Fx, args).await,
        Command::Import {
            command: ImportCommand::Products(args),
        } => import_catalogue(false, args).await,
        Command::Import {
            command: ImportCommand::Stock(args),
        } => import_catalogue(true, args).await,
        Command::Audit { command } => audit(command).await,
        Command::Bench(args) => bench::run(args).await,
        Command::Generate {
            command:
                GenerateCommand::Sales {
                    clients,
                    associates,
                    orders,
                    touches,
                    seed,
                    start,
                    out,
                },
        } => {
            let start = domain::date("start", &start).map_err(|e| anyhow::anyhow!("--{e}"))?;
            let counts = sim::sales::write(
                &out,
                &sim::sales::SalesParams {
                    clients: clients.max(1),
                    associates: associates.max(1),
                    orders,
                    touches,
                    seed,
                    start,
                    days: 365,
                },
            )?;
            println!(
                "wrote {} orders, {} returns, {} touches and {} rates to {}",
                counts.orders,
                counts.returns,
                counts.touches,
                counts.rates,
                out.display()
            );
            Ok(())
        }
        Command::Generate {
            command:
                GenerateCommand::Events {
                    people,
                    days,
                    seed,
                    start,
                    out,
                },
        } => {
            let start = domain::date("start", &start).map_err(|e| anyhow::anyhow!("--{e}"))?;
            let events = sim::events::generate(&sim::events::Params {
                people,
                days,
                seed,
                start,
            });
            let file = std::io::BufWriter::new(
                std::fs::File::create(&out)
                    .with_context(|| format!("cannot create {}", out.display()))?,
            );
            if out.extension().is_some_and(|e| e == "parquet") {
                drop(file);
                events::write_parquet(&out, &events)?;
            } else if out.extension().is_some_and(|e| e == "gz") {
                let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
                events::write_jsonl(&mut gz, &events)?;
                gz.finish()?;
            } else {
                events::write_jsonl(file, &events)?;
            }
            println!(
                "wrote {} events for {people} people over {days} days to {}",
                events.len(),
                out.display()
            );
            Ok(())
        }
        Command::Import {
            command:
                ImportCommand::Events {
                    file,
                    brand,
                    skip_bad,
                    store_args,
                },
        } => {
            let salon = store_args.resolve()?.open().await?;
            let actor = system_actor(&salon, &brand).await?;
            let report = salon
                .import_events_file(&actor, &file, skip_bad)
                .await
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            for s in &report.skipped {
                eprintln!("skipped {s}");
            }
            println!(
                "read {} events: {} new, {} already held, {} lines skipped",
                report.read,
                report.added,
                report.read as u64 - report.added,
                report.skipped.len()
            );
            Ok(())
        }
        Command::Export {
            command:
                ExportCommand::Events {
                    brand,
                    format,
                    out,
                    store_args,
                },
        } => {
            let salon = store_args.resolve()?.open().await?;
            let actor = system_actor(&salon, &brand).await?;
            match (format.as_str(), &out) {
                ("jsonl", _) => {}
                ("parquet", Some(path)) => {
                    let events = salon
                        .export_event_values(&actor)
                        .await
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                    let n = events::write_parquet(path, events.iter())?;
                    eprintln!("wrote {n} events to {}", path.display());
                    return Ok(());
                }
                ("parquet", None) => bail!("--format parquet needs --out FILE.parquet"),
                (other, _) => bail!("--format {other}: use jsonl or parquet"),
            }
            let lines = salon
                .export_events(&actor)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let write = |mut w: Box<dyn std::io::Write>| -> anyhow::Result<()> {
                for l in &lines {
                    w.write_all(l.as_bytes())?;
                    w.write_all(b"\n")?;
                }
                w.flush()?;
                Ok(())
            };
            match &out {
                Some(path) => {
                    let file = std::io::BufWriter::new(
                        std::fs::File::create(path)
                            .with_context(|| format!("cannot create {}", path.display()))?,
                    );
                    if path.extension().is_some_and(|e| e == "gz") {
                        let mut gz =
                            flate2::write::GzEncoder::new(file, flate2::Compression::fast());
                        for l in &lines {
                            std::io::Write::write_all(&mut gz, l.as_bytes())?;
                            std::io::Write::write_all(&mut gz, b"\n")?;
                        }
                        gz.finish()?;
                    } else {
                        write(Box::new(file))?;
                    }
                    eprintln!("wrote {} events to {}", lines.len(), path.display());
                }
                None => match write(Box::new(std::io::stdout().lock())) {
                    // `salon export events … | head` is fine.
                    Err(e)
                        if e.downcast_ref::<std::io::Error>()
                            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) => {}
                    other => other?,
                },
            }
            Ok(())
        }
        Command::Index {
            events,
            brand,
            from,
            to,
            tz,
            format,
            skip_bad,
            store_args,
        } => {
            if !["json", "table", "html"].contains(&format.as_str()) {
                bail!("--format {format}: use json, table or html");
            }
            let date =
                |field: &str, s: &str| domain::date(field, s).map_err(|e| anyhow::anyhow!("--{e}"));
            let (from, to) = (date("from", &from)?, date("to", &to)?);
            let (report, title) = match (events, brand) {
                (Some(events), _) => {
                    let tz = tz.as_deref().unwrap_or("Asia/Shanghai");
                    let period = index::Period::new(from, to, tz)?;
                    let (table, skipped) = index::Table::read(&events, skip_bad)
                        .map_err(|e| anyhow::anyhow!("{}: {e}", events.display()))?;
                    for e in &skipped {
                        eprintln!("skipped {e}");
                    }
                    (
                        index::report_table(&table, &period)?,
                        events.display().to_string(),
                    )
                }
                (None, Some(brand)) => {
                    let salon = store_args.resolve()?.open().await?;
                    let mut actor = system_actor(&salon, &brand).await?;
                    actor.role = Role::Hq;
                    let report = salon
                        .brand_report(&actor, from, to, tz.as_deref())
                        .await
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                    (report, actor.brand.name.clone())
                }
                (None, None) => bail!("give --events FILE or --brand SLUG"),
            };
            match format.as_str() {
                "table" => print!("{}", web::report::table(&report)),
                "html" => print!("{}", web::report::printable(&title, &report)),
                _ => println!("{}", serde_json::to_string_pretty(&report)?),
            }
            Ok(())
        }
    }
}

async fn channel(command: ChannelCommand) -> anyhow::Result<()> {
    use app::channels::ChannelInput;
    use domain::ChannelKind;
    let (brand, store_args, kind, input) = match command {
        ChannelCommand::Wecom {
            brand,
            corp_id,
            agent_id,
            secret,
            token,
            aes_key,
            api_base,
            store_args,
        } => (
            brand,
            store_args,
            Some(ChannelKind::Wecom),
            ChannelInput {
                app_id: Some(corp_id),
                agent_id,
                secret: Some(secret),
                token: Some(token),
                aes_key: Some(aes_key),
                api_base,
                menu: None,
            },
        ),
        ChannelCommand::WechatOa {
            brand,
            app_id,
            secret,
            token,
            aes_key,
            api_base,
            menu,
            store_args,
        } => {
            let menu = match menu {
                Some(m) => Some(
                    m.split(',')
                        .filter(|p| !p.trim().is_empty())
                        .map(|p| {
                            p.split_once('=')
                                .map(|(k, c)| (k.trim().to_owned(), c.trim().to_owned()))
                                .with_context(|| format!("--menu: {p:?} is not KEY=category"))
                        })
                        .collect::<anyhow::Result<_>>()?,
                ),
                None => None,
            };
            (
                brand,
                store_args,
                Some(ChannelKind::WechatOa),
                ChannelInput {
                    app_id: Some(app_id),
                    agent_id: None,
                    secret: Some(secret),
                    token: Some(token),
                    aes_key: Some(aes_key),
                    api_base,
                    menu,
                },
            )
        }
        ChannelCommand::Show { brand, store_args } => {
            (brand, store_args, None, ChannelInput::default())
        }
        ChannelCommand::Groups { brand, store_args } => {
            let (salon, b) = open_brand(&store_args, &brand).await?;
            let n = salon
                .sync_groups_of(b.id)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{n} customer groups read from WeCom");
            return Ok(());
        }
        ChannelCommand::Archive {
            file,
            brand,
            store_args,
        } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let json = if text.trim_start().starts_with("{\"chatdata\"") {
                text
            } else {
                // JSON Lines: one entry a line.
                let entries: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
                format!("{{\"chatdata\":[{}]}}", entries.join(","))
            };
            let batch = channels::wecom::archive::ArchiveBatch::parse(&json)
                .with_context(|| format!("{} is not a chat archive dump", file.display()))?;
            let (salon, b) = open_brand(&store_args, &brand).await?;
            let r = salon
                .ingest_archive(b.id, &batch)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "{} group messages and {} one-to-one messages stored, {} already held, {} skipped, {} flagged; the archive stands at seq {}",
                r.group_messages, r.direct_messages, r.already, r.skipped, r.flagged, r.seq
            );
            return Ok(());
        }
        ChannelCommand::Test {
            channel,
            brand,
            store_args,
        } => {
            let salon = store_args.resolve()?.open().await?;
            let actor = system_actor(&salon, &brand).await?;
            let kind = ChannelKind::parse(&channel)
                .with_context(|| format!("{channel:?} is not a channel: wecom or wechat-oa"))?;
            let message = salon
                .test_channel(&actor, kind)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{message}");
            return Ok(());
        }
    };
    // `--brand demo` on a fresh data directory: the demo brand the server would create.
    let (salon, _) = open_brand(&store_args, &brand).await?;
    let actor = system_actor(&salon, &brand).await?;
    if let Some(kind) = kind {
        salon
            .configure_channel(&actor, kind, &input)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        println!("configured {kind} for brand {brand}");
    }
    for kind in ChannelKind::ALL {
        let v = salon
            .channel_view(&actor, kind)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        if !v.configured {
            println!("{kind}: not configured (callback {})", v.callback_path);
            continue;
        }
        println!(
            "{kind}: id {} agent {} api {} secret {} token {} aes_key {}\n  callback {}\n  inbox: {} received, {} processed, {} pending, {} failed",
            v.app_id.unwrap_or_default(),
            v.agent_id.unwrap_or_else(|| "-".into()),
            v.api_base.unwrap_or_default(),
            v.secret.unwrap_or_default(),
            v.token.unwrap_or_default(),
            v.aes_key.unwrap_or_default(),
            v.callback_path,
            v.inbox.received,
            v.inbox.processed,
            v.inbox.pending,
            v.inbox.failed,
        );
    }
    Ok(())
}

/// How many clients the demo brand starts with.
const DEMO_CLIENTS: usize = 5_000;
/// People in the demo brand's generated year of WeChat community history.
const DEMO_FOLLOWERS: usize = 8_000;

/// The operator at the command line acts as the brand's admin.
async fn store_command(command: StoreCommand) -> anyhow::Result<()> {
    match command {
        StoreCommand::Create {
            brand,
            code,
            name,
            city,
            country,
            time_zone,
            store_args,
        } => {
            let salon = store_args.resolve()?.open().await?;
            let actor = system_actor(&salon, &brand).await?;
            let store = salon
                .create_store(
                    &actor,
                    &app::org::StoreInput {
                        code: Some(code),
                        name: Some(name),
                        city: Some(city),
                        country: Some(country),
                        time_zone,
                    },
                )
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "created store {} ({}, {}) in brand {brand}",
                store.code, store.name, store.time_zone
            );
            Ok(())
        }
        StoreCommand::List { brand, store_args } => {
            let salon = store_args.resolve()?.open().await?;
            let actor = system_actor(&salon, &brand).await?;
            for s in salon
                .list_stores(&actor)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?
            {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    s.code, s.name, s.city, s.country, s.time_zone
                );
            }
            Ok(())
        }
    }
}

async fn import_sales(kind: app::sales::SalesFile, args: SalesImportArgs) -> anyhow::Result<()> {
    let salon = args.store_args.resolve()?.open().await?;
    let actor = system_actor(&salon, &args.brand).await?;
    let report = salon
        .import_sales(&actor, kind, &app::sales::Lines::File(args.file.clone()))
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "{}: {e}; nothing of the file was stored",
                args.file.display()
            )
        })?;
    println!(
        "read {} lines: {} new, {} already held",
        report.lines,
        report.added,
        report.lines.saturating_sub(report.added)
    );
    Ok(())
}

/// The operator imports the catalogue as HQ would.
async fn import_catalogue(stock: bool, args: CatalogueImportArgs) -> anyhow::Result<()> {
    let name = args.file.display().to_string();
    let Some(format) = app::catalogue::Format::of_name(&name) else {
        bail!("{name}: the file must end in .csv, .jsonl, .ndjson or .json");
    };
    let bytes = std::fs::read(&args.file).with_context(|| format!("cannot read {name}"))?;
    let salon = args.store_args.resolve()?.open().await?;
    let mut actor = system_actor(&salon, &args.brand).await?;
    actor.role = Role::Hq;
    let result = if stock {
        salon.import_stock(&actor, format, &bytes).await
    } else {
        salon.import_products(&actor, format, &bytes).await
    };
    let report = result.map_err(|e| match e {
        app::AppError::Invalid(fields) => anyhow::anyhow!(
            "{name}:\n{}",
            fields
                .iter()
                .map(|f| format!("  {f}"))
                .collect::<Vec<_>>()
                .join("\n")
        ),
        e => anyhow::anyhow!("{name}: {e}; nothing of the file was stored"),
    })?;
    if stock {
        println!(
            "read {} stock lines: {} changed, {} as held",
            report.lines,
            report.added,
            report.lines.saturating_sub(report.added)
        );
    } else {
        println!(
            "read {} products: {} new, {} changed, {} as held",
            report.lines,
            report.added,
            report.changed,
            report.lines.saturating_sub(report.added + report.changed)
        );
    }
    Ok(())
}

async fn sales_command(command: SalesCommand) -> anyhow::Result<()> {
    match command {
        SalesCommand::Policy {
            brand,
            file,
            store_args,
        } => {
            let salon = store_args.resolve()?.open().await?;
            let mut actor = system_actor(&salon, &brand).await?;
            actor.role = Role::Hq;
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let policy = salon
                .set_sales_policy(&actor, &text)
                .await
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            println!("{}", policy.to_json());
            Ok(())
        }
        SalesCommand::Tiers {
            brand,
            set,
            store_args,
        } => {
            let salon = store_args.resolve()?.open().await?;
            let mut actor = system_actor(&salon, &brand).await?;
            actor.role = Role::Hq;
            let tiers = match set {
                Some(text) => {
                    let mut tiers = Vec::new();
                    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                        let (tier, amount) = part.split_once('=').ok_or_else(|| {
                            anyhow::anyhow!("--set {part:?}: write TIER=AMOUNT (minor units)")
                        })?;
                        let amount: i64 = amount.trim().parse().map_err(|_| {
                            anyhow::anyhow!(
                                "--set {part:?}: {amount:?} is not a whole amount in minor units"
                            )
                        })?;
                        tiers.push((tier.trim().to_owned(), amount));
                    }
                    salon
                        .set_tier_thresholds(&actor, tiers)
                        .await
                        .map_err(|e| anyhow::anyhow!("{e}"))?
                }
                None => salon
                    .tier_thresholds(&actor)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?,
            };
            for (tier, min) in &tiers.tiers {
                println!("{tier}\t{min}");
            }
            Ok(())
        }
        SalesCommand::Webhook { brand, store_args } => {
            let salon = store_args.resolve()?.open().await?;
            let actor = system_actor(&salon, &brand).await?;
            let secret = salon
                .rotate_webhook_secret(&actor)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            eprintln!(
                "POST /webhooks/sales/{brand}/orders (and /returns) with the header \
                 X-Salon-Signature: sha256=<hex of HMAC-SHA256(secret, raw body)>. \
                 The secret is shown once; a new one replaces it."
            );
            println!("{secret}");
            Ok(())
        }
        SalesCommand::Report {
            brand,
            month,
            format,
            store_args,
        } => {
            if !["json", "table", "csv"].contains(&format.as_str()) {
                bail!("--format {format}: use json, table or csv");
            }
            let salon = store_args.resolve()?.open().await?;
            let mut actor = system_actor(&salon, &brand).await?;
            actor.role = Role::Hq;
            let report = salon
                .sales_report(&actor, &month)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            match format.as_str() {
                "json" => println!("{}", serde_json::to_string_pretty(&report)?),
                "csv" => print!("{}", app::sales::statement_csv(&report)),
                _ => {
                    println!(
                        "{:<4} {:<40} {:>14} {:>12} {:>14} {:>7} {:>12} {:>14}",
                        "rank",
                        "associate",
                        "sales",
                        "returns",
                        "net",
                        "orders",
                        "commission",
                        "target"
                    );
                    for (i, s) in report.associates.iter().enumerate() {
                        println!(
                            "{:<4} {:<40} {:>14} {:>12} {:>14} {:>7} {:>12} {:>14}",
                            i + 1,
                            s.associate,
                            s.sales,
                            s.returns,
                            s.net,
                            s.orders,
                            s.commission,
                            s.target.map_or_else(|| "-".to_owned(), |t| t.to_string())
                        );
                    }
                    println!(
                        "unattributed: {} ({} minor units, {})",
                        report.unattributed, report.currency, report.month
                    );
                }
            }
            Ok(())
        }
    }
}

async fn system_actor(salon: &Salon, brand: &str) -> anyhow::Result<app::Actor> {
    let brand = salon
        .repo
        .brand_by_slug(brand)
        .await?
        .with_context(|| format!("no brand has the slug {brand:?}"))?;
    Ok(app::Actor {
        brand,
        role: Role::Admin,
        user: None,
        store: None,
    })
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let cfg = args.store.resolve()?;
    let listen = args
        .listen
        .or(cfg.file.listen)
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
    let no_demo = args.no_demo || cfg.file.no_demo.unwrap_or(false);
    let demo_flag = args.demo || cfg.file.demo.unwrap_or(false);
    if no_demo && demo_flag {
        bail!("--demo and --no-demo (or demo and no_demo) contradict each other: choose one");
    }
    let proxy_hops = args.proxy_hops.or(cfg.file.proxy_hops);
    let behind_proxy =
        args.behind_proxy || cfg.file.behind_proxy.unwrap_or(false) || proxy_hops.is_some();
    // The demo's accounts have a published password and its sandbox plays WeChat clients:
    // they exist only where nobody else can reach them (a loopback address, no proxy in
    // front forwarding others' requests), unless the operator asks for them with --demo.
    let local_only = listen.ip().is_loopback() && !behind_proxy;
    let demo = !no_demo && (demo_flag || local_only);
    let salon = cfg.open().await?;
    if let Some(ms) = args.dispatch_lease_ms
        && let Ok(mut l) = salon.broadcasts.lease.write()
    {
        *l = std::time::Duration::from_millis(ms);
    }
    if let Some(ms) = args.provider_timeout_ms
        && let Ok(mut p) = salon.channels.api_policy.write()
    {
        p.timeout = std::time::Duration::from_millis(ms);
    }
    if !demo
        && salon
            .repo
            .brand_by_slug(sim::demo::DEMO_SLUG)
            .await?
            .is_some()
    {
        let why = if no_demo {
            "--no-demo was given".to_owned()
        } else if behind_proxy {
            format!("Salon listens on {listen} behind a proxy, where others reach it")
        } else {
            format!("Salon listens on {listen}, which is not a loopback address")
        };
        bail!(
            "refusing to start: this store holds the demo brand (slug \"{slug}\"), whose accounts \
             sign in with the published password \"{password}\", and {why}. Remove it with \
             `salon brand delete {slug}` (with the same --data-dir / --database-url), or pass \
             --demo to serve the demo anyway.",
            slug = sim::demo::DEMO_SLUG,
            password = sim::demo::DEMO_PASSWORD,
        );
    }
    if !demo {
        // Should a demo brand appear while this server runs, nobody signs in to it.
        salon.close_demo();
    }
    if demo {
        if !local_only {
            tracing::warn!(%listen, "--demo: serving the demo brand and its sandbox where others can reach them");
        }
        let n = args.demo_clients.unwrap_or(DEMO_CLIENTS);
        let started = std::time::Instant::now();
        if let Some(seeded) = salon
            .seed_demo(2026, n)
            .await
            .map_err(|e| anyhow::anyhow!("seeding the demo: {e}"))?
        {
            tracing::info!(
                clients = seeded.clients,
                ms = started.elapsed().as_millis() as u64,
                "demo brand ready"
            );
        }
        if let Some(n) = salon
            .seed_demo_events(DEMO_FOLLOWERS)
            .await
            .map_err(|e| anyhow::anyhow!("seeding the demo's events: {e}"))?
        {
            tracing::info!(
                events = n,
                "a year of the demo brand's WeChat community history"
            );
        }
    }
    let mut state = web::AppState::new(salon.clone());
    state.behind_proxy = behind_proxy;
    state.proxy_hops = usize::from(proxy_hops.unwrap_or(1).max(1));
    if behind_proxy {
        tracing::info!(
            hops = state.proxy_hops,
            "trusting X-Forwarded-For/-Proto from that many proxies"
        );
    }
    // The sandbox channel: the WeCom + OA simulator, in-process, under /sandbox, with this
    // installation's own secrets. Only with the demo; its pages need a demo sign-in.
    let sandbox = if demo {
        let secrets = config::sandbox_secrets(&cfg.data_dir)?;
        let sim = sim::tencent::Simulator::new(sim::tencent::SimConfig::sandbox_with(
            "/sandbox", &secrets,
        ))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        state.sandbox = Some(sim.router());
        state.sandbox_brand = sim::demo::DEMO_SLUG.to_owned();
        Some(sim)
    } else {
        None
    };
    let app = web::router(state).layer(axum::middleware::from_fn(log_request));
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    if let Some(sim) = &sandbox
        && salon
            .repo
            .brand_by_slug(sim::demo::DEMO_SLUG)
            .await?
            .is_some()
    {
        // Before the first request: settings of an earlier run (or of an older Salon, whose
        // sandbox secrets were constants) no longer verify any callback.
        app::sandbox::rekey(
            &salon,
            sim,
            sim::demo::DEMO_SLUG,
            &format!("http://{}/sandbox", loopback_host(addr)),
        )
        .await
        .map_err(|e| anyhow::anyhow!("keying the sandbox channel: {e}"))?;
    }
    println!("Salon is listening on http://{addr}");
    salon.start_channel_processor();
    salon.start_dispatcher();
    salon.start_broadcaster();
    salon.start_indexer(std::time::Duration::from_millis(500));
    salon.start_cache_watch(std::time::Duration::from_secs(1));
    if let Some(sim) = sandbox {
        tokio::spawn(start_sandbox(
            salon.clone(),
            sim,
            addr,
            std::time::Duration::from_secs(8),
        ));
    }
    if salon
        .repo
        .brand_by_slug(sim::demo::DEMO_SLUG)
        .await?
        .is_some()
    {
        println!(
            "Demo brand \"{}\" (brand: {}), password {} for every login:",
            sim::demo::DEMO_NAME,
            sim::demo::DEMO_SLUG,
            sim::demo::DEMO_PASSWORD
        );
        for s in sim::demo::staff().iter().filter(|s| !s.departed) {
            println!("  {:<14} {}", s.role.as_str(), s.email);
        }
    }
    warn_of_demo_accounts(&salon).await?;
    if !addr.ip().is_loopback() && !behind_proxy {
        tracing::warn!(
            "serving plain HTTP on a non-loopback address: put Salon behind a TLS proxy (--behind-proxy)"
        );
    }
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown())
    .await?;
    tracing::info!("stopped");
    Ok(())
}

/// Where this process reaches itself: the bound address, or loopback for a wildcard one.
fn loopback_host(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], addr.port()))
    } else {
        addr
    }
}

/// Says loudly (a WARN log line and a banner on stderr) when accounts with the demo's
/// published password exist, naming them and how to remove them.
async fn warn_of_demo_accounts(salon: &Salon) -> anyhow::Result<()> {
    let open = salon
        .demo_accounts()
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if open.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = open.iter().map(|u| u.email.as_str()).collect();
    tracing::warn!(
        brand = sim::demo::DEMO_SLUG,
        accounts = %names.join(", "),
        "DEMO ACCOUNTS EXIST: they sign in with the published password; remove them with `salon brand delete {}`",
        sim::demo::DEMO_SLUG
    );
    eprintln!(
        "!!! WARNING: {} demo account(s) of brand \"{}\" sign in with the published password \"{}\": {}.\n!!! Anyone who reaches this server can use them. Remove them with `salon brand delete {}`.",
        open.len(),
        sim::demo::DEMO_SLUG,
        sim::demo::DEMO_PASSWORD,
        names.join(", "),
        sim::demo::DEMO_SLUG
    );
    Ok(())
}

/// Connects the demo brand to the in-process simulator (unless the brand has real WeCom
/// settings of its own) and lets simulated clients arrive and talk.
pub(crate) async fn start_sandbox(
    salon: Salon,
    sim: sim::tencent::Simulator,
    addr: SocketAddr,
    activity_every: std::time::Duration,
) {
    let slug = sim::demo::DEMO_SLUG;
    let Ok(brand) = salon.brand_by_slug(slug).await else {
        return;
    };
    match salon
        .repo
        .channel_settings(brand.id, domain::ChannelKind::Wecom)
        .await
    {
        Ok(Some(s)) if s.app_id != sim.config().corp_id => {
            tracing::info!("the demo brand has its own WeCom settings: the sandbox stays off");
            return;
        }
        Err(e) => {
            tracing::warn!(error = %e, "sandbox not started");
            return;
        }
        _ => {}
    }
    let host = loopback_host(addr);
    sim.set_targets(
        &format!("http://{host}/channels/wecom/{slug}/callback"),
        &format!("http://{host}/channels/wechat-oa/{slug}/callback"),
    );
    if let Err(e) = app::sandbox::wire(&salon, &sim, slug, &format!("http://{host}/sandbox")).await
    {
        tracing::warn!(error = %e, "sandbox not connected");
        return;
    }
    tracing::info!("sandbox channel connected: simulated WeChat clients will arrive and write");
    // A first few clients at once, so that a newcomer sees the channel at work right away.
    if sim.contact_ids().is_empty() {
        let ways = sim.way_ids();
        for (i, (name, line)) in [
            ("林小姐", "您好，想预约周六下午看新款手袋。"),
            (
                "Sophie Laurent",
                "Is the silk scarf in blue still available?",
            ),
            ("王女士", "谢谢您的生日祝福！"),
        ]
        .into_iter()
        .enumerate()
        {
            let Some(way) = ways.get(i * 3 % ways.len().max(1)) else {
                break;
            };
            match sim.client_scans(way, name, None).await {
                Ok(external) => {
                    let _ = sim.client_says(&external, line).await;
                }
                Err(e) => tracing::debug!(error = %e, "sandbox"),
            }
        }
    }
    match app::sandbox::open_demo_groups(&salon, &sim, slug).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(groups = n, "sandbox: demo customer groups opened"),
        Err(e) => tracing::warn!(error = %e, "sandbox: demo customer groups not opened"),
    }
    let menu = app::sandbox::MENU
        .iter()
        .map(|(k, _)| (*k).to_owned())
        .collect();
    sim::tencent::run_activity(sim, activity_every, menu).await;
}

/// One line per request: method, path (never the query, which may hold a phone number),
/// status and time.
async fn log_request(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let started = std::time::Instant::now();
    let res = next.run(req).await;
    tracing::info!(%method, path, status = res.status().as_u16(), ms = started.elapsed().as_millis() as u64, "request");
    res
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: finishing requests in flight");
}

async fn audit(command: AuditCommand) -> anyhow::Result<()> {
    match command {
        AuditCommand::Verify { brand, store_args } => {
            let (salon, b) = open_brand(&store_args, &brand).await?;
            match salon
                .verify_audit(b.id)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?
            {
                Ok(n) => {
                    println!("audit log of {brand}: {n} entries, the chain holds");
                    Ok(())
                }
                Err(broken) => {
                    eprintln!(
                        "audit log of {brand}: BROKEN at entry {}: {}",
                        broken.seq, broken.reason
                    );
                    std::process::exit(1);
                }
            }
        }
        AuditCommand::Show { brand, store_args } => {
            let (salon, b) = open_brand(&store_args, &brand).await?;
            let mut after = 0;
            loop {
                let page = salon.repo.audit_log(b.id, after, 5000).await?;
                let Some(last) = page.last() else { break };
                after = last.seq;
                for e in &page {
                    println!("{}", serde_json::to_string(e)?);
                }
            }
            Ok(())
        }
    }
}

/// Opens the store and finds a brand by slug; `demo` on a fresh data directory is created
/// first, as the server would.
async fn open_brand(
    store_args: &StoreArgs,
    slug: &str,
) -> anyhow::Result<(app::Salon, domain::Brand)> {
    let salon = store_args.resolve()?.open().await?;
    if slug == sim::demo::DEMO_SLUG && salon.repo.brand_by_slug(slug).await?.is_none() {
        eprintln!("The demo brand does not exist yet: creating it first.");
        salon
            .seed_demo(2026, DEMO_CLIENTS)
            .await
            .map_err(|e| anyhow::anyhow!("seeding the demo: {e}"))?;
    }
    let brand = salon
        .repo
        .brand_by_slug(slug)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no brand {slug:?}"))?;
    Ok((salon, brand))
}
