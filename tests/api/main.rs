//! Black-box tests: a real server on port 0, real websocket and HTTP clients.

mod bad_input;
mod chat;
mod helpers;
mod policy;
mod rest;
mod routing;
mod timers;
mod web;
