@echo off
rem build_all.bat - build xshm for Windows x64 and x86 with Visual Studio.
rem Output in build_x64\Release\ and build_x86\Release\.
call "%~dp0build_x64.bat"
if errorlevel 1 goto :failed
call "%~dp0build_x86.bat"
if errorlevel 1 goto :failed
echo.
echo xshm: x64 and x86 built, output in build_x64\Release\ and build_x86\Release\
exit /b 0

:failed
echo xshm: build_all stopped because a build failed, see above.
exit /b 1
