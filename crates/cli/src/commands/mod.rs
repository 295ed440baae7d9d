pub mod build;
pub mod container;
pub mod events;
pub mod image;
pub mod network;
pub mod registry;
pub mod volume;
