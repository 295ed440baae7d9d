pub mod build;
pub mod image;
