@echo off
rem build_x86.bat - build xshm for Windows x86 with Visual Studio 2019/2022.
rem Output in build_x86\Release\: xshm.dll, xshm.lib (import library),
rem xshm_static.lib and the example and test programs.
call "%~dp0scripts\build_vs.bat" Win32 build_x86
exit /b %errorlevel%
