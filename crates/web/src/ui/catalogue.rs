//! The catalogue pages: HQ searches, edits, turns products on and off and uploads CSV or JSON
//! Lines; associates and store managers find products and their store's stock; a product
//! without an e-shop page has a public page here (`/p/{brand}/{sku}`) that shared links open.

use askama::Template;
use axum::Form;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use app::AppError;
use app::catalogue::{Format, ProductRow, ProductSearch};
use domain::{Action, PriceInput, Product, ProductInput, Role, StockLevel};

use super::format::money;
use super::pages::{Chrome, PageResult, WithCsrf, chrome, field_errors, render, render_form, to};
use super::{Lang, Viewer};
use crate::{AppState, PageError};

pub struct Words {
    pub catalogue: &'static str,
    pub search: &'static str,
    pub search_placeholder: &'static str,
    pub all_categories: &'static str,
    pub all: &'static str,
    pub active: &'static str,
    pub inactive: &'static str,
    pub activate: &'static str,
    pub deactivate: &'static str,
    pub in_stock: &'static str,
    pub stock_in_store: &'static str,
    pub stock: &'static str,
    pub quantity: &'static str,
    pub save: &'static str,
    pub nothing_found: &'static str,
    pub upload: &'static str,
    pub upload_help: &'static str,
    pub products_file: &'static str,
    pub stock_file: &'static str,
    pub file: &'static str,
    pub imported: &'static str,
    pub new_product: &'static str,
    pub edit: &'static str,
    pub sku: &'static str,
    pub name_zh: &'static str,
    pub name_en: &'static str,
    pub category: &'static str,
    pub material: &'static str,
    pub colours: &'static str,
    pub sizes: &'static str,
    pub list_help: &'static str,
    pub prices: &'static str,
    pub price_in: &'static str,
    pub images: &'static str,
    pub images_help: &'static str,
    pub url: &'static str,
    pub back: &'static str,
    pub no_stock: &'static str,
    pub share_product: &'static str,
    pub share_search: &'static str,
    pub share_one_tap: &'static str,
    pub share_find: &'static str,
}

pub const EN: Words = Words {
    catalogue: "Catalogue",
    search: "Search",
    search_placeholder: "Name in Chinese or English, category, colour or SKU",
    all_categories: "All categories",
    all: "All",
    active: "Active",
    inactive: "Not sold",
    activate: "Sell again",
    deactivate: "Stop selling",
    in_stock: "in stock",
    stock_in_store: "in your store",
    stock: "Stock per store",
    quantity: "Quantity",
    save: "Save",
    nothing_found: "No product matches.",
    upload: "Import products or stock",
    upload_help: "CSV or JSON Lines (.csv, .jsonl, .json). Products: sku, name_zh, name_en, category, material, colours, sizes, images (lists separated by |), active, url and one price_XXX column per currency in major units (price_CNY, price_EUR). Stock: sku, store, quantity. A bad line stops the import and nothing is stored.",
    products_file: "Products",
    stock_file: "Stock",
    file: "File",
    imported: "Imported",
    new_product: "New product",
    edit: "Edit",
    sku: "SKU",
    name_zh: "Name (Chinese)",
    name_en: "Name (English)",
    category: "Category",
    material: "Material",
    colours: "Colours",
    sizes: "Sizes",
    list_help: "separated by |",
    prices: "Prices",
    price_in: "Price in",
    images: "Images",
    images_help: "asset ids from the asset pool, separated by |",
    url: "Page on the e-shop",
    back: "Catalogue",
    no_stock: "No stock recorded.",
    share_product: "Share a product",
    share_search: "Find a product",
    share_one_tap: "Share",
    share_find: "Find",
};

pub const ZH: Words = Words {
    catalogue: "商品目录",
    search: "搜索",
    search_placeholder: "中文或英文名称、品类、颜色或货号",
    all_categories: "全部品类",
    all: "全部",
    active: "在售",
    inactive: "停售",
    activate: "恢复销售",
    deactivate: "停止销售",
    in_stock: "件库存",
    stock_in_store: "件（本店）",
    stock: "各门店库存",
    quantity: "数量",
    save: "保存",
    nothing_found: "没有符合条件的商品。",
    upload: "导入商品或库存",
    upload_help: "CSV 或 JSON Lines（.csv、.jsonl、.json）。商品：sku、name_zh、name_en、category、material、colours、sizes、images（多个值以 | 分隔）、active、url，以及每种货币一列 price_XXX（主币单位，如 price_CNY、price_EUR）。库存：sku、store、quantity。任何一行有误即停止导入，不保存任何内容。",
    products_file: "商品",
    stock_file: "库存",
    file: "文件",
    imported: "已导入",
    new_product: "新建商品",
    edit: "编辑",
    sku: "货号",
    name_zh: "中文名称",
    name_en: "英文名称",
    category: "品类",
    material: "材质",
    colours: "颜色",
    sizes: "尺码",
    list_help: "以 | 分隔",
    prices: "价格",
    price_in: "价格",
    images: "图片",
    images_help: "素材库中的素材编号，以 | 分隔",
    url: "官网商品页",
    back: "商品目录",
    no_stock: "暂无库存记录。",
    share_product: "分享商品",
    share_search: "查找商品",
    share_one_tap: "分享",
    share_find: "查找",
};

pub(crate) fn words_for(v: &Viewer) -> &'static Words {
    match v.lang {
        Lang::En => &EN,
        Lang::Zh => &ZH,
    }
}

/// A product as a list shows it.
pub struct ProductCard {
    pub sku: String,
    pub href: String,
    pub name: String,
    pub other_name: String,
    pub category: String,
    pub price: String,
    pub thumb: Option<String>,
    pub active: bool,
    pub stock: i64,
}

/// The path of a product's page in the catalogue, the SKU percent-encoded.
fn product_href(sku: &str) -> String {
    format!("/catalogue/{}", super::form_urlencoded_component(sku))
}

/// The price people here read first: the brand's first currency, else the product's first.
fn main_price(p: &Product, currencies: &[String]) -> String {
    currencies
        .iter()
        .find_map(|c| p.price(c).map(|m| money(m, Some(c))))
        .or_else(|| {
            p.prices
                .first()
                .map(|x| money(x.minor, Some(x.currency.as_str())))
        })
        .unwrap_or_default()
}

pub(crate) fn card(r: &ProductRow, zh_first: bool, currencies: &[String]) -> ProductCard {
    let p = &r.product;
    let (first, second) = if zh_first {
        (&p.name_zh, &p.name_en)
    } else {
        (&p.name_en, &p.name_zh)
    };
    let (name, other_name) = if first.is_empty() {
        (second.clone(), String::new())
    } else {
        (first.clone(), second.clone())
    };
    ProductCard {
        sku: p.sku.clone(),
        href: product_href(&p.sku),
        name,
        other_name,
        category: p.category.clone(),
        price: main_price(p, currencies),
        thumb: p
            .images
            .first()
            .map(|id| format!("/assets/{id}/image?thumb=1")),
        active: p.active,
        stock: r.stock,
    }
}

fn currencies(v: &Viewer) -> Vec<String> {
    v.actor
        .brand
        .currencies
        .iter()
        .map(|c| c.to_string())
        .collect()
}

#[derive(Template)]
#[template(path = "catalogue.html")]
struct CataloguePage {
    c: Chrome,
    w: &'static Words,
    q: String,
    categories: Vec<(String, bool)>,
    active: String,
    products: Vec<ProductCard>,
    can_manage: bool,
    can_stock: bool,
    stock_label: &'static str,
    errors: Vec<String>,
    imported: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct CatalogueQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    category: String,
    /// `all`, `active` or `inactive` (HQ).
    #[serde(default)]
    active: String,
    imported: Option<String>,
}

async fn catalogue_page(
    state: &AppState,
    v: &Viewer,
    q: &CatalogueQuery,
    errors: Vec<String>,
) -> PageResult {
    let s = &state.salon;
    let a = &v.actor;
    let w = words_for(v);
    let active = match q.active.as_str() {
        "active" => Some(true),
        "inactive" => Some(false),
        _ => None,
    };
    let search = ProductSearch {
        q: q.q.clone(),
        category: Some(q.category.clone()),
        active,
        limit: Some(app::catalogue::LIST_MAX),
    };
    let rows = match s.search_products(a, &search).await {
        Ok(r) => r,
        Err(AppError::Invalid(_)) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    let currencies = currencies(v);
    let categories = s
        .product_categories(a)
        .await?
        .into_iter()
        .map(|c| {
            let selected = c == q.category;
            (c, selected)
        })
        .collect();
    let page = CataloguePage {
        c: chrome(v, "/catalogue", "/catalogue", None),
        w,
        q: q.q.clone(),
        categories,
        active: q.active.clone(),
        products: rows
            .iter()
            .map(|r| card(r, v.lang == Lang::Zh, &currencies))
            .collect(),
        can_manage: v.can(Action::ManageCatalogue),
        can_stock: v.can(Action::SetStock),
        stock_label: if a.role == Role::Hq {
            w.in_stock
        } else {
            w.stock_in_store
        },
        errors,
        imported: q.imported.clone().filter(|s| s.len() < 100),
    };
    let has_errors = !page.errors.is_empty();
    render_form(&page, has_errors)
}

pub async fn page(
    State(state): State<AppState>,
    v: Viewer,
    Query(q): Query<CatalogueQuery>,
) -> PageResult {
    v.actor.require(Action::ReadCatalogue)?;
    catalogue_page(&state, &v, &q, Vec::new()).await
}

/// The upload form: a products or a stock file, by its name's extension.
pub async fn upload(State(state): State<AppState>, v: Viewer, mut form: Multipart) -> PageResult {
    let mut csrf = String::new();
    let mut kind = String::new();
    let mut name = String::new();
    let mut file = Vec::new();
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| PageError(AppError::invalid("file", e.body_text())))?
    {
        match field.name() {
            Some("csrf") => csrf = field.text().await.unwrap_or_default(),
            Some("kind") => kind = field.text().await.unwrap_or_default(),
            Some("file") => {
                name = field.file_name().unwrap_or_default().to_owned();
                file = field
                    .bytes()
                    .await
                    .map_err(|e| PageError(AppError::invalid("file", e.body_text())))?
                    .to_vec();
            }
            _ => {}
        }
    }
    v.check_csrf(&csrf)?;
    let result = match Format::of_name(&name) {
        None => Err(AppError::invalid(
            "file",
            "must be a .csv, .jsonl, .ndjson or .json file",
        )),
        Some(format) if kind == "stock" => state.salon.import_stock(&v.actor, format, &file).await,
        Some(format) => state.salon.import_products(&v.actor, format, &file).await,
    };
    match result {
        Ok(r) => Ok(to(&format!(
            "/catalogue?imported={}%20%2B{}%20%E2%86%BB{}",
            r.lines, r.added, r.changed
        ))),
        Err(e) => {
            let errors = field_errors(e)?;
            catalogue_page(&state, &v, &CatalogueQuery::default(), errors).await
        }
    }
}

#[derive(Deserialize)]
pub struct ActiveForm {
    active: String,
}

pub async fn set_active(
    State(state): State<AppState>,
    v: Viewer,
    Path(sku): Path<String>,
    Form(f): Form<WithCsrf<ActiveForm>>,
) -> PageResult {
    v.check_csrf(&f.csrf)?;
    state
        .salon
        .set_product_active(&v.actor, &sku, f.input.active == "true")
        .await?;
    Ok(to("/catalogue"))
}

/// A product's fields as the edit form holds them.
#[derive(Deserialize, Default, Clone)]
pub struct ProductForm {
    #[serde(default)]
    sku: String,
    #[serde(default)]
    name_zh: String,
    #[serde(default)]
    name_en: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    material: String,
    #[serde(default)]
    colours: String,
    #[serde(default)]
    sizes: String,
    #[serde(default)]
    images: String,
    #[serde(default)]
    url: String,
    active: Option<String>,
    /// `price_CNY`, `price_EUR`, … (flattened).
    #[serde(flatten)]
    prices: std::collections::BTreeMap<String, String>,
}

fn bar_list(s: &str) -> Vec<String> {
    s.split('|')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect()
}

impl ProductForm {
    fn of(p: &Product) -> Self {
        ProductForm {
            sku: p.sku.clone(),
            name_zh: p.name_zh.clone(),
            name_en: p.name_en.clone(),
            category: p.category.clone(),
            material: p.material.clone(),
            colours: p.colours.join(" | "),
            sizes: p.sizes.join(" | "),
            images: p
                .images
                .iter()
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(" | "),
            url: p.url.clone().unwrap_or_default(),
            active: p.active.then(|| "on".to_owned()),
            prices: p
                .prices
                .iter()
                .map(|x| {
                    (
                        format!("price_{}", x.currency),
                        domain::catalogue::price_text(&x.currency, x.minor),
                    )
                })
                .collect(),
        }
    }

    fn input(&self) -> Result<ProductInput, AppError> {
        let images = bar_list(&self.images)
            .iter()
            .map(|i| {
                i.parse::<i64>()
                    .map_err(|_| AppError::invalid("images", format!("{i:?} is not an asset id")))
            })
            .collect::<Result<_, _>>()?;
        Ok(ProductInput {
            sku: self.sku.clone(),
            name_zh: self.name_zh.clone(),
            name_en: self.name_en.clone(),
            category: self.category.clone(),
            material: self.material.clone(),
            colours: bar_list(&self.colours),
            sizes: bar_list(&self.sizes),
            prices: self
                .prices
                .iter()
                .filter_map(|(k, v)| {
                    let c = k.strip_prefix("price_")?;
                    (!v.trim().is_empty()).then(|| (c.to_owned(), PriceInput::Text(v.clone())))
                })
                .collect(),
            images,
            active: Some(self.active.is_some()),
            url: Some(self.url.clone()),
        })
    }
}

pub struct StockRow {
    pub code: String,
    pub store: String,
    pub quantity: i64,
    pub editable: bool,
}

#[derive(Template)]
#[template(path = "product.html")]
struct ProductPage {
    c: Chrome,
    w: &'static Words,
    is_new: bool,
    can_manage: bool,
    card: Option<ProductCard>,
    material: String,
    colours: String,
    sizes: String,
    prices: Vec<String>,
    url: String,
    form: ProductForm,
    /// (currency, form key, value).
    price_fields: Vec<(String, String, String)>,
    stock: Vec<StockRow>,
    errors: Vec<String>,
}

async fn product_page(
    state: &AppState,
    v: &Viewer,
    sku: Option<&str>,
    form: Option<ProductForm>,
    errors: Vec<String>,
) -> PageResult {
    let s = &state.salon;
    let a = &v.actor;
    let w = words_for(v);
    let detail = match sku {
        Some(sku) => Some(s.product_detail(a, sku).await?),
        None => None,
    };
    let currencies = currencies(v);
    let form = form.unwrap_or_else(|| {
        detail
            .as_ref()
            .map_or_else(ProductForm::default, |d| ProductForm::of(&d.product))
    });
    let mut price_fields: Vec<(String, String, String)> = currencies
        .iter()
        .map(|c| {
            let key = format!("price_{c}");
            let value = form.prices.get(&key).cloned().unwrap_or_default();
            (c.clone(), key, value)
        })
        .collect();
    for (k, value) in &form.prices {
        if let Some(c) = k.strip_prefix("price_")
            && !currencies.iter().any(|x| x == c)
        {
            price_fields.push((c.to_owned(), k.clone(), value.clone()));
        }
    }
    let stores = s.list_stores(a).await.unwrap_or_default();
    let own_code = a
        .store
        .and_then(|id| stores.iter().find(|st| st.id == id))
        .map(|st| st.code.to_string());
    let stock: Vec<StockRow> = match &detail {
        None => Vec::new(),
        Some(d) => {
            let held = |code: &str| {
                d.stock
                    .iter()
                    .find(|l: &&StockLevel| l.store == code)
                    .map_or(0, |l| l.quantity)
            };
            stores
                .iter()
                .filter(|st| a.role == Role::Hq || Some(st.code.to_string()) == own_code)
                .map(|st| StockRow {
                    code: st.code.to_string(),
                    store: format!("{} · {}", st.code, st.name),
                    quantity: held(st.code.as_str()),
                    editable: v.can(Action::SetStock),
                })
                .collect()
        }
    };
    let page = ProductPage {
        c: chrome(v, "/catalogue", "/catalogue", None),
        w,
        is_new: detail.is_none(),
        can_manage: v.can(Action::ManageCatalogue),
        card: detail.as_ref().map(|d| {
            card(
                &ProductRow {
                    product: d.product.clone(),
                    stock: d.stock.iter().map(|l| l.quantity).sum(),
                },
                v.lang == Lang::Zh,
                &currencies,
            )
        }),
        material: detail
            .as_ref()
            .map(|d| d.product.material.clone())
            .unwrap_or_default(),
        colours: detail
            .as_ref()
            .map(|d| d.product.colours.join(", "))
            .unwrap_or_default(),
        sizes: detail
            .as_ref()
            .map(|d| d.product.sizes.join(", "))
            .unwrap_or_default(),
        prices: detail
            .as_ref()
            .map(|d| {
                d.product
                    .prices
                    .iter()
                    .map(|x| money(x.minor, Some(x.currency.as_str())))
                    .collect()
            })
            .unwrap_or_default(),
        url: detail
            .as_ref()
            .and_then(|d| d.product.url.clone())
            .unwrap_or_default(),
        form,
        price_fields,
        stock,
        errors,
    };
    let has_errors = !page.errors.is_empty();
    render_form(&page, has_errors)
}

pub async fn product(
    State(state): State<AppState>,
    v: Viewer,
    Path(sku): Path<String>,
) -> PageResult {
    product_page(&state, &v, Some(&sku), None, Vec::new()).await
}

pub async fn new_product(State(state): State<AppState>, v: Viewer) -> PageResult {
    v.actor.require(Action::ManageCatalogue)?;
    product_page(&state, &v, None, None, Vec::new()).await
}

async fn save(
    state: &AppState,
    v: &Viewer,
    sku: Option<&str>,
    f: WithCsrf<ProductForm>,
) -> PageResult {
    v.check_csrf(&f.csrf)?;
    let form = f.input;
    let sku_now = sku.map_or_else(|| form.sku.trim().to_owned(), str::to_owned);
    let result = match form.input() {
        Ok(mut input) => {
            input.sku = sku_now.clone();
            state.salon.put_product(&v.actor, &sku_now, &input).await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok((p, _)) => Ok(to(&product_href(&p.sku))),
        Err(e) => {
            let errors = field_errors(e)?;
            // A new product is shown as new again (it was not stored).
            product_page(state, v, sku, Some(form), errors).await
        }
    }
}

pub async fn create_product(
    State(state): State<AppState>,
    v: Viewer,
    Form(f): Form<WithCsrf<ProductForm>>,
) -> PageResult {
    save(&state, &v, None, f).await
}

pub async fn update_product(
    State(state): State<AppState>,
    v: Viewer,
    Path(sku): Path<String>,
    Form(f): Form<WithCsrf<ProductForm>>,
) -> PageResult {
    save(&state, &v, Some(&sku), f).await
}

#[derive(Deserialize)]
pub struct StockForm {
    store: String,
    quantity: String,
}

pub async fn set_stock(
    State(state): State<AppState>,
    v: Viewer,
    Path(sku): Path<String>,
    Form(f): Form<WithCsrf<StockForm>>,
) -> PageResult {
    v.check_csrf(&f.csrf)?;
    let code = f.input.store.trim().to_owned();
    let level = domain::StockInput {
        sku: sku.clone(),
        store: code,
        quantity: domain::catalogue::quantity("quantity", &f.input.quantity)
            .ok()
            .map(serde_json::Number::from),
    }
    .parse(domain::now_millis());
    let result = match level {
        Ok(l) => state.salon.set_stock(&v.actor, vec![(1, l)]).await,
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(_) => Ok(to(&product_href(&sku))),
        Err(e) => {
            let errors = field_errors(e)?;
            product_page(&state, &v, Some(&sku), None, errors).await
        }
    }
}

#[derive(Template)]
#[template(path = "product_public.html")]
struct PublicProductPage {
    lang: &'static str,
    brand: String,
    name: String,
    other_name: String,
    category: String,
    material: String,
    colours: String,
    prices: Vec<String>,
}

/// A product's public page (what a shared link without an e-shop page opens).
pub async fn public_product(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    Path((brand, sku)): Path<(String, String)>,
) -> PageResult {
    let (b, p) = state.salon.public_product(&brand, &sku).await?;
    let zh = headers
        .get(axum::http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("zh"));
    let name = p.name_in(if zh { "zh" } else { "en" }).to_owned();
    let other_name = if name == p.name_zh {
        p.name_en.clone()
    } else {
        p.name_zh.clone()
    };
    let mut res = render(&PublicProductPage {
        lang: if zh { "zh-CN" } else { "en" },
        brand: b.name,
        name,
        other_name,
        category: p.category.clone(),
        material: p.material.clone(),
        colours: p.colours.join(" · "),
        prices: p
            .prices
            .iter()
            .map(|x| money(x.minor, Some(x.currency.as_str())))
            .collect(),
    })?;
    *res.status_mut() = StatusCode::OK;
    Ok(res)
}

#[derive(Deserialize)]
pub struct ShareProductForm {
    sku: String,
}

/// An associate shares a product with the client from the profile, in one tap: a tracked link
/// (kind `product`), shown on the profile to copy.
pub async fn share_product(
    State(state): State<AppState>,
    v: Viewer,
    Path(id): Path<String>,
    Form(f): Form<WithCsrf<ShareProductForm>>,
) -> PageResult {
    v.check_csrf(&f.csrf)?;
    let id: i64 = id
        .parse()
        .map_err(|_| PageError(AppError::NotFound("client")))?;
    let (link, _) = state
        .salon
        .share_product(&v.actor, domain::ClientId(id), &f.input.sku)
        .await?;
    Ok(to(&format!("/clients/{id}?shared={}#share", link.code)))
}
