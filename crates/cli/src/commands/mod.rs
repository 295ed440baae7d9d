pub mod build;
pub mod container;
pub mod events;
pub mod image;
pub mod info;
pub mod network;
pub mod registry;
pub mod volume;
