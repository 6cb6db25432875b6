//! The files of the brand's asset pool. An upload is checked by its content (PNG or JPEG,
//! whatever its name says), its size and its dimensions; it is stored once under its SHA-256
//! in the brand's part of a [`store::BlobStore`] (a directory, or an S3-compatible bucket),
//! with a thumbnail at most [`THUMB`] pixels wide. Pure file work: what an asset *means*
//! (captions, workflow, validity) lives in `domain`.

pub mod store;

use std::io::Cursor;
use std::sync::Arc;

use sha2::{Digest, Sha256};

pub use store::{BlobStore, DirStore, S3Config, S3Store};

/// The largest file accepted.
pub const MAX_BYTES: usize = 10 * 1024 * 1024;
/// The largest side accepted, in pixels (WeCom's own limit for images is far below 20 MP).
pub const MAX_SIDE: u32 = 8_000;
/// Thumbnails fit in this many pixels on their longer side.
pub const THUMB: u32 = 320;

#[derive(Debug, thiserror::Error)]
pub enum AssetFileError {
    #[error("the file is empty")]
    Empty,
    #[error("the file is {0} bytes; at most 10 MiB is accepted")]
    TooLarge(usize),
    #[error("the file is not a PNG or JPEG image (it starts with {0})")]
    NotAnImage(String),
    #[error("the image cannot be read: {0}")]
    Unreadable(String),
    #[error("the image is {0}×{1} pixels; at most {MAX_SIDE} on a side")]
    TooBig(u32, u32),
    #[error("no such asset file")]
    Missing,
    #[error("the asset store: {0}")]
    Store(String),
    #[error("the asset store cannot be written: {0}")]
    Io(#[from] std::io::Error),
}

/// What kind of image a file is, by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Png,
    Jpeg,
}

impl Kind {
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Kind::Png)
        } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Kind::Jpeg)
        } else {
            None
        }
    }
    pub fn mime(self) -> &'static str {
        match self {
            Kind::Png => "image/png",
            Kind::Jpeg => "image/jpeg",
        }
    }
    pub fn ext(self) -> &'static str {
        match self {
            Kind::Png => "png",
            Kind::Jpeg => "jpg",
        }
    }
}

/// A stored image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    /// `<sha256>.<ext>`, relative to the brand's directory.
    pub name: String,
    pub thumb: String,
    pub mime: &'static str,
    pub bytes: u64,
    pub width: u32,
    pub height: u32,
    pub sha256: String,
}

/// An image that passed the checks, with its thumbnail, ready to be stored.
#[derive(Debug, Clone)]
pub struct Checked {
    pub file: StoredFile,
    pub thumb_bytes: Vec<u8>,
}

/// Checks an upload by its content and makes its thumbnail: CPU work, no storage.
pub fn check(bytes: &[u8]) -> Result<Checked, AssetFileError> {
    if bytes.is_empty() {
        return Err(AssetFileError::Empty);
    }
    if bytes.len() > MAX_BYTES {
        return Err(AssetFileError::TooLarge(bytes.len()));
    }
    let kind = Kind::sniff(bytes)
        .ok_or_else(|| AssetFileError::NotAnImage(hex::encode(&bytes[..bytes.len().min(4)])))?;
    let format = match kind {
        Kind::Png => image::ImageFormat::Png,
        Kind::Jpeg => image::ImageFormat::Jpeg,
    };
    let reader = image::ImageReader::with_format(Cursor::new(bytes), format);
    let (w, h) = reader
        .into_dimensions()
        .map_err(|e| AssetFileError::Unreadable(e.to_string()))?;
    if w == 0 || h == 0 || w > MAX_SIDE || h > MAX_SIDE {
        return Err(AssetFileError::TooBig(w, h));
    }
    let img = image::load_from_memory_with_format(bytes, format)
        .map_err(|e| AssetFileError::Unreadable(e.to_string()))?;
    let sha = hex::encode(Sha256::digest(bytes));
    let mut thumb_bytes = Vec::new();
    img.thumbnail(THUMB, THUMB)
        .write_to(&mut Cursor::new(&mut thumb_bytes), image::ImageFormat::Png)
        .map_err(|e| AssetFileError::Unreadable(e.to_string()))?;
    Ok(Checked {
        file: StoredFile {
            name: format!("{sha}.{}", kind.ext()),
            thumb: format!("{sha}.thumb.png"),
            mime: kind.mime(),
            bytes: bytes.len() as u64,
            width: w,
            height: h,
            sha256: sha,
        },
        thumb_bytes,
    })
}

/// The asset files of an installation, each brand under its own prefix of one store.
#[derive(Clone)]
pub struct AssetFiles {
    blobs: Arc<dyn BlobStore>,
}

impl AssetFiles {
    pub fn new(blobs: Arc<dyn BlobStore>) -> Self {
        Self { blobs }
    }

    fn key(brand: i64, name: &str) -> String {
        format!("brand-{brand}/{name}")
    }

    /// Where the files are (never a secret).
    pub fn describe(&self) -> String {
        self.blobs.describe()
    }

    /// Stores a checked image and its thumbnail (the thumbnail first: a file that is listed
    /// always has one); the same bytes twice are one file.
    pub async fn put(
        &self,
        brand: i64,
        bytes: Vec<u8>,
        checked: Checked,
    ) -> Result<StoredFile, AssetFileError> {
        let f = checked.file;
        self.blobs
            .put(
                &Self::key(brand, &f.thumb),
                checked.thumb_bytes,
                "image/png",
            )
            .await?;
        self.blobs
            .put(&Self::key(brand, &f.name), bytes, f.mime)
            .await?;
        Ok(f)
    }

    /// A stored file's bytes. Names are the store's own (`<hex>.<ext>`); anything else is
    /// refused, so that a name can never reach outside the brand's part of the store.
    pub async fn get(&self, brand: i64, name: &str) -> Result<Vec<u8>, AssetFileError> {
        let ok = name
            .split('.')
            .next()
            .is_some_and(|h| h.len() == 64 && h.chars().all(|c| c.is_ascii_hexdigit()))
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
            && !name.contains("..");
        if !ok {
            return Err(AssetFileError::Missing);
        }
        self.blobs.get(&Self::key(brand, name)).await
    }
}

/// A placeholder visual of one colour with a lighter band (the demo's stand-in for a brand's
/// photography), as PNG bytes.
pub fn swatch(w: u32, h: u32, rgb: [u8; 3]) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |_, y| {
        if y > h * 2 / 3 {
            image::Rgb(rgb.map(|c| c.saturating_add(60)))
        } else {
            image::Rgb(rgb)
        }
    });
    let mut out = Vec::new();
    let _ = image::DynamicImage::ImageRgb8(img)
        .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
        });
        let mut out = Vec::new();
        image::DynamicImage::ImageRgb8(img)
            .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
            .expect("png");
        out
    }

    fn store() -> (AssetFiles, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "salon_assets_{}_{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        (AssetFiles::new(Arc::new(DirStore::new(&dir))), dir)
    }

    async fn put(fs: &AssetFiles, brand: i64, bytes: &[u8]) -> Result<StoredFile, AssetFileError> {
        let checked = check(bytes)?;
        fs.put(brand, bytes.to_vec(), checked).await
    }

    #[tokio::test]
    async fn an_image_is_stored_once_with_a_thumbnail() {
        let (fs, dir) = store();
        let bytes = png(1200, 600);
        let a = put(&fs, 7, &bytes).await.expect("stored");
        assert_eq!((a.width, a.height, a.mime), (1200, 600, "image/png"));
        assert_eq!(put(&fs, 7, &bytes).await.expect("again"), a);
        let thumb = fs.get(7, &a.thumb).await.expect("thumb");
        let t = image::load_from_memory(&thumb).expect("decodes");
        assert_eq!((t.width(), t.height()), (320, 160));
        assert_eq!(fs.get(7, &a.name).await.expect("file"), bytes);
        // Another brand has its own part of the store.
        assert!(matches!(
            fs.get(8, &a.name).await,
            Err(AssetFileError::Missing)
        ));
        assert!(dir.join("brand-7").join(&a.name).exists());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn the_content_decides_not_the_name() {
        let (fs, dir) = store();
        assert!(matches!(
            put(&fs, 1, b"GIF89a....").await,
            Err(AssetFileError::NotAnImage(_))
        ));
        assert!(matches!(put(&fs, 1, b"").await, Err(AssetFileError::Empty)));
        let mut broken = png(10, 10);
        broken.truncate(30);
        assert!(matches!(
            put(&fs, 1, &broken).await,
            Err(AssetFileError::Unreadable(_))
        ));
        assert!(matches!(
            put(&fs, 1, &vec![0xFF; MAX_BYTES + 1]).await,
            Err(AssetFileError::TooLarge(_))
        ));
        assert!(fs.get(1, "../../etc/passwd").await.is_err());
        assert!(fs.get(1, "x.png").await.is_err());
        let _ = std::fs::remove_dir_all(dir);
    }
}
