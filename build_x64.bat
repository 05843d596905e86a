@echo off
rem build_x64.bat - build xshm for Windows x64 with Visual Studio 2019/2022.
rem Output in build_x64\Release\: xshm.dll, xshm.lib (import library),
rem xshm_static.lib and the example and test programs.
call "%~dp0scripts\build_vs.bat" x64 build_x64
exit /b %errorlevel%
