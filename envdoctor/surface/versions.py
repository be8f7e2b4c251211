"""What the surface caches mean, as version numbers: a change of meaning bumps one, and every
cache written under another number is ignored and rebuilt.  Kept apart so that reading a cached
result (a warm `envdoctor check`) needs none of the modules that compute one."""

SUMMARY_VERSION = 17  # 4: globals().update(...) marks a module dynamic; 5: decorators named, wrapper profiles,
#                     star imports made only in an except handler (fallback_stars); 6: sys.modules[__name__]
#                     replaced by an object (dynamic), sys.meta_path hooks (import_hook); 7: a wrapper is a
#                     function the decorator defines and returns in its own body (direct statements); 8: a
#                     module function that adds to __all__, called on imported modules (numpy 1.x extend_all);
#                     9: @overload declarations merged (a keyword any of them takes is accepted); 10: a module
#                     function that reaches globals(), called at module level, makes the namespace dynamic;
#                     11: references keep the standard-library modules a Python release removed (imp, imghdr);
#                     12: the known part of a partly dynamic __all__ (all_known); 13: what methods set on
#                     self (instance, instance_dynamic); 14: setattr(sys.modules[__name__], name, ...)
#                     with a computed name marks the module dynamic; 15: a class as the module's __getattr__;
#                     16: calls inside the functions a module-level block defines are not module-level calls;
#                     17: the annotated fields of a decorated class that is not a plain dataclass (annotated)
PROBE_VERSION = 20  # of the answers' meaning (2: methods answer Cls.method(kwarg=); 3: keyword-naming decorators;
#                   4: names absent from every file of a lazily-exported subtree are absent; unsettled answers not kept;
#                   5: keywords of classes with bases in other distributions follow those bases;
#                   6: keywords see through decorators the release defines; absent fallback star imports;
#                   7: modules replaced by objects or made by import hooks answer at run time; 8: summary v7;
#                   9: summary v8, extension modules whose binary never spells a name lack it; 10: summary v9;
#                   11: summary v10; 12: summary v11, a user's release without the referencing files and
#                   that spells the module nowhere no longer makes the reference; 13: summary v12, a
#                   partly dynamic __all__ does not star-export a name imported from outside; 14: summary
#                   v13, instance attributes; 15: summary v14, setattr on the module itself;
#                   16: summary v15, a class as a module's __getattr__; 17: a probe whose reads failed
#                   (a network error, a read cut short) is not kept: v16 kept some as unknown for good;
#                   18: summary v16; 19: a dataclass's keyword: a base from another distribution adds
#                   only its dataclass fields; 20: summary v17, a decorated class's annotations)
