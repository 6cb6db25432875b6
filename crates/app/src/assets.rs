//! The asset pool's use cases: HQ uploads images with their texts and moves them through
//! draft → approved → retired; associates see only what is approved and valid now. Images go
//! to WeCom as temporary media when a campaign carries them (uploaded once per three days).

use std::sync::Arc;
use std::time::{Duration, Instant};

use domain::*;

use crate::{Actor, AppError, AppResult, Salon};

/// WeCom keeps temporary media three days; Salon uploads again a little before.
const MEDIA_TTL: Duration = Duration::from_secs(3 * 24 * 3600 - 3600);

/// The files of the asset pool and the WeCom media ids of recently sent images.
#[derive(Default)]
pub struct AssetStore {
    files: std::sync::RwLock<Option<::assets::AssetFiles>>,
    media: std::sync::Mutex<std::collections::HashMap<(BrandId, i64), (Instant, String)>>,
}

fn file_error(e: ::assets::AssetFileError) -> AppError {
    match e {
        ::assets::AssetFileError::Missing => AppError::NotFound("asset file"),
        ::assets::AssetFileError::Store(why) => AppError::Unavailable(why),
        ::assets::AssetFileError::Io(io) if io.kind() == std::io::ErrorKind::NotFound => {
            AppError::NotFound("asset file")
        }
        ::assets::AssetFileError::Io(io) => AppError::Internal(io.to_string()),
        other => AppError::Invalid(vec![FieldError::new("file", other.to_string())]),
    }
}

impl Salon {
    /// Keeps the asset pool's files under `root` (the data directory's `assets`).
    pub fn with_asset_dir(self, root: &std::path::Path) -> Self {
        self.with_asset_store(Arc::new(::assets::DirStore::new(root)))
    }

    /// Keeps the asset pool's files in `store` (a directory, or an S3-compatible bucket).
    pub fn with_asset_store(self, store: Arc<dyn ::assets::BlobStore>) -> Self {
        if let Ok(mut f) = self.assets.files.write() {
            *f = Some(::assets::AssetFiles::new(store));
        }
        self
    }

    /// Where the asset pool's files are kept (never a secret).
    pub fn asset_store(&self) -> Option<String> {
        self.files().ok().map(|f| f.describe())
    }

    fn files(&self) -> AppResult<::assets::AssetFiles> {
        self.assets
            .files
            .read()
            .ok()
            .and_then(|f| f.clone())
            .ok_or_else(|| AppError::Unavailable("no asset store is configured".into()))
    }

    /// Uploads an image with its texts, as a draft.
    pub async fn upload_asset(
        &self,
        actor: &Actor,
        bytes: Vec<u8>,
        text: AssetText,
    ) -> AppResult<Asset> {
        actor.require(Action::ManageCampaigns)?;
        let files = self.files()?;
        let brand = actor.brand.id;
        // The checks and the thumbnail are CPU work, off the async threads.
        let (bytes, checked) = tokio::task::spawn_blocking(move || {
            let checked = ::assets::check(&bytes);
            (bytes, checked)
        })
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
        let stored = files
            .put(brand.0, bytes, checked.map_err(file_error)?)
            .await
            .map_err(file_error)?;
        let file = AssetFile {
            name: stored.name,
            thumb: stored.thumb,
            mime: stored.mime.to_owned(),
            bytes: i64::try_from(stored.bytes).unwrap_or(i64::MAX),
            width: i32::try_from(stored.width).unwrap_or(i32::MAX),
            height: i32::try_from(stored.height).unwrap_or(i32::MAX),
        };
        Ok(self
            .repo
            .create_asset(brand, &text, &file, actor.user_id(), now_millis())
            .await?)
    }

    pub async fn update_asset(&self, actor: &Actor, id: i64, text: AssetText) -> AppResult<Asset> {
        actor.require(Action::ManageCampaigns)?;
        Ok(self
            .repo
            .update_asset(actor.brand.id, id, &text, now_millis())
            .await?)
    }

    /// Approves, retires or sends back an asset; audited.
    pub async fn set_asset_status(
        &self,
        actor: &Actor,
        id: i64,
        status: AssetStatus,
    ) -> AppResult<Asset> {
        actor.require(Action::ManageCampaigns)?;
        let a = self
            .repo
            .set_asset_status(actor.brand.id, id, status, now_millis())
            .await?;
        self.audit(
            actor,
            &format!("asset.{}", status.as_str()),
            &format!("asset:{id}"),
            serde_json::json!({"title": a.title}),
        )
        .await?;
        Ok(a)
    }

    /// The pool as the actor may see it: associates only what is approved and valid now.
    pub async fn assets(&self, actor: &Actor) -> AppResult<Vec<Asset>> {
        actor.require(Action::ReadAssets)?;
        let mut all = self.repo.assets(actor.brand.id).await?;
        if actor.role == Role::Associate {
            let now = now_millis();
            return Ok(all.into_iter().filter(|a| a.usable_at(now)).collect());
        }
        // What came of the Moments posts that showed each image.
        let mut outcome: std::collections::HashMap<i64, MomentOutcome> = Default::default();
        for m in self.repo.moments(actor.brand.id, 1_000).await? {
            let (_, seen, likes, comments) = m.totals();
            for id in &m.asset_ids {
                let o = outcome.entry(*id).or_default();
                o.posts += 1;
                o.seen_by += seen;
                o.likes += u32::try_from(likes).unwrap_or(u32::MAX);
                o.comments += u32::try_from(comments).unwrap_or(u32::MAX);
            }
        }
        for a in &mut all {
            a.in_moments = outcome.get(&a.id).copied().unwrap_or_default();
        }
        Ok(all)
    }

    /// An asset's image or thumbnail: (mime, bytes), within the actor's view of the pool.
    pub async fn asset_image(
        &self,
        actor: &Actor,
        id: i64,
        thumb: bool,
    ) -> AppResult<(String, Vec<u8>)> {
        actor.require(Action::ReadAssets)?;
        let a = self
            .repo
            .asset(actor.brand.id, id)
            .await?
            .ok_or(AppError::NotFound("asset"))?;
        if actor.role == Role::Associate && !a.usable_at(now_millis()) {
            return Err(AppError::NotFound("asset"));
        }
        let files = self.files()?;
        let name = if thumb {
            a.file.thumb.clone()
        } else {
            a.file.name.clone()
        };
        let bytes = files
            .get(actor.brand.id.0, &name)
            .await
            .map_err(file_error)?;
        let mime = if thumb {
            "image/png".to_owned()
        } else {
            a.file.mime
        };
        Ok((mime, bytes))
    }

    /// The WeCom media id of an asset's image, uploading it when none is fresh.
    pub(crate) async fn media_id(&self, brand: BrandId, asset: i64) -> AppResult<String> {
        if let Some((at, id)) = self
            .assets
            .media
            .lock()
            .ok()
            .and_then(|m| m.get(&(brand, asset)).cloned())
            && at.elapsed() < MEDIA_TTL
        {
            return Ok(id);
        }
        let a = self
            .repo
            .asset(brand, asset)
            .await?
            .ok_or(AppError::NotFound("asset"))?;
        let bytes = self
            .files()?
            .get(brand.0, &a.file.name)
            .await
            .map_err(file_error)?;
        let api = self.wecom_api(brand).await?;
        let id = api
            .upload_image(&a.file.name, &a.file.mime, bytes)
            .await
            .map_err(|e| AppError::Unavailable(e.to_string()))?;
        if let Ok(mut m) = self.assets.media.lock() {
            m.insert((brand, asset), (Instant::now(), id.clone()));
        }
        Ok(id)
    }
}
