//! Feedback's rules, free of I/O and protobuf: surveys ([`survey`]), reviews and their
//! automatic moderation ([`review`]), support cases with their SLA deadlines ([`case`]).

pub mod case;
pub mod review;
pub mod survey;

/// An enum stored in Postgres under a stable upper-case name.
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant,)* }

        impl $name {
            pub const ALL: [$name; [$($text,)*].len()] = [$($name::$variant,)*];

            /// The stable name stored in Postgres.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)* }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)* _ => None }
            }
        }
    };
}
pub(crate) use text_enum;
